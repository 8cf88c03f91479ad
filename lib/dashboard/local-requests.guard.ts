import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { header, remoteAddress, type AnyRequest } from './http-exchange.js';

/** Headers a proxy adds: a request that went through one came from wherever the proxy's client is. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host'];

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** `localhost`, `*.localhost`, 127.x.x.x or [::1], with or without a port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  const lower = name.toLowerCase();
  return lower === 'localhost' || lower.endsWith('.localhost') || lower === '[::1]' || isLoopbackAddress(lower);
}

/** Why a request is not a local one, or undefined when it is. */
export function notLocal(request: AnyRequest): string | undefined {
  const address = remoteAddress(request);
  if (!isLoopbackAddress(address)) return `it comes from ${address ?? 'an unknown address'}, not from this machine`;
  const forwarded = FORWARDING_HEADERS.find((name) => header(request, name) !== undefined);
  if (forwarded !== undefined) return `it came through a proxy (${forwarded} header)`;
  // A page of another site whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own host name.
  if (!isLoopbackHost(header(request, 'host'))) return `its Host header is not a loopback name (localhost, 127.0.0.1, [::1])`;
  return undefined;
}

/**
 * The dashboard's default guard (Hangfire's LocalRequestsOnlyAuthorizationFilter): a request from this machine's
 * loopback, to a loopback host name, that did not come through a proxy. Anything else gets 403; give the module a
 * `guard` to let other people in.
 */
@Injectable()
export class LocalRequestsOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const why = notLocal(context.switchToHttp().getRequest<AnyRequest>());
    if (why !== undefined) {
      throw new ForbiddenException(
        `The background dashboard answers local requests only, and ${why}. Give BackgroundWorkDashboardModule.forRoot() a guard to open it to others.`,
      );
    }
    return true;
  }
}
