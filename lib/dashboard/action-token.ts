import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { header, type AnyRequest } from './http-exchange.js';

/**
 * Cross-site request forgery: an action (a POST) must carry, in a header, the token that the page was given and
 * that a SameSite=Strict cookie holds too (the double-submit pattern: another site can neither read the token nor
 * send the cookie). Stateless, so several instances behind one balancer accept each other's pages. The request's
 * Origin and Sec-Fetch-Site, when the browser sends them, must say same origin as well.
 */

export const TOKEN_COOKIE = 'bw_dashboard_token';
export const TOKEN_HEADER = 'x-bw-token';
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The token of the request's cookie, when it has a well-formed one. */
export function cookieToken(request: AnyRequest): string | undefined {
  const cookies = header(request, 'cookie');
  if (cookies === undefined) return undefined;
  for (const part of cookies.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === TOKEN_COOKIE) {
      const token = value.join('=');
      return TOKEN_FORMAT.test(token) ? token : undefined;
    }
  }
  return undefined;
}

export function tokenCookie(token: string, path: string): string {
  return `${TOKEN_COOKIE}=${token}; Path=${path}; HttpOnly; SameSite=Strict`;
}

/** Why an action request is refused, or undefined. */
export function forgedBecause(request: AnyRequest): string | undefined {
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return `it was sent by another site (Sec-Fetch-Site: ${site})`;
  const origin = header(request, 'origin');
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    // Behind a proxy that rewrites Host, the name the browser used is in X-Forwarded-Host.
    const ours = [header(request, 'host'), header(request, 'x-forwarded-host')];
    if (host === undefined || !ours.includes(host)) return `its Origin ${origin} is not this page's`;
  }
  const sent = header(request, TOKEN_HEADER);
  const kept = cookieToken(request);
  if (sent === undefined || kept === undefined) return 'it has no dashboard token (reload the page)';
  if (sent.length !== kept.length || !timingSafeEqual(Buffer.from(sent), Buffer.from(kept))) return 'its dashboard token is wrong (reload the page)';
  return undefined;
}

/** Every request but GET and HEAD needs the token: reading is free, acting is not. */
@Injectable()
export class ActionTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AnyRequest & { method: string }>();
    if (request.method === 'GET' || request.method === 'HEAD') return true;
    const why = forgedBecause(request);
    if (why !== undefined) throw new ForbiddenException(`Dashboard action refused: ${why}`);
    return true;
  }
}
