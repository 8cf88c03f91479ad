/** The page itself: a shell that loads the bundled script, which draws everything with DOM calls (never HTML text). */

function attribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageSettings {
  /** The dashboard's URL path, as the browser asked for it (any global prefix included), no trailing slash. */
  base: string;
  token: string;
  readOnly: boolean;
  version: string;
}

export function renderPage({ base, token, readOnly, version }: PageSettings): string {
  const b = attribute(base);
  const v = attribute(version);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="bw-base" content="${b}">
<meta name="bw-token" content="${attribute(token)}">
<meta name="bw-read-only" content="${readOnly ? 'true' : 'false'}">
<title>Background work</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${b}/assets/dashboard.css?v=${v}">
<script type="module" src="${b}/assets/dashboard.js?v=${v}"></script>
</head>
<body>
<noscript>This dashboard needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;
}

/** Headers of every answer of the dashboard: no inline script or style can run, no framing, no sniffing. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
