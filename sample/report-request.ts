import { BadRequestException } from '@nestjs/common';

export interface ReportRequest {
  title: string;
  pages: number;
}

export const DEFAULT_REPORT: ReportRequest = { title: 'Quarterly sales report', pages: 50 };
export const MAX_REPORT_PAGES = 500;
const MAX_TITLE = 100;
const KEYS = new Set(['title', 'pages']);
// The PDF's built-in fonts (Helvetica) can only draw Latin-1: refuse what would print as garbage.
const PRINTABLE_LATIN1 = /^[\x20-\x7e\xa0-\xff]+$/;

/** Checks the body of `POST /reports`: `{ pages?: 1..500 (default 50), title?: string }`. No body takes the defaults. */
export function parseReportRequest(input: unknown): ReportRequest {
  if (input === undefined) return { ...DEFAULT_REPORT };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new BadRequestException('Send a JSON object: { "pages": 50, "title": "..." }, both optional');
  }
  const body = input as Record<string, unknown>;
  const problems = Object.keys(body)
    .filter((key) => !KEYS.has(key))
    .map((key) => `unknown field "${key}"`);
  const { pages = DEFAULT_REPORT.pages, title = DEFAULT_REPORT.title } = body;
  if (typeof pages !== 'number' || !Number.isInteger(pages) || pages < 1 || pages > MAX_REPORT_PAGES) {
    problems.push(`pages must be a whole number from 1 to ${MAX_REPORT_PAGES}`);
  }
  if (typeof title !== 'string' || title.trim() === '') problems.push('title must be a non-empty string');
  else if (title.length > MAX_TITLE) problems.push(`title must be at most ${MAX_TITLE} characters`);
  else if (!PRINTABLE_LATIN1.test(title)) problems.push('title must be one line of Latin-1 characters (the PDF uses the built-in Helvetica font)');
  if (problems.length > 0) throw new BadRequestException(problems);
  return { title: (title as string).trim(), pages: pages as number };
}
