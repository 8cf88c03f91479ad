import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What the dashboard needs of a request and a response on Express and on Fastify alike. Express hands Node's own
 * objects (extended); Fastify wraps them, the originals being `raw`.
 */

export interface AnyRequest {
  raw?: IncomingMessage;
  headers: IncomingMessage['headers'];
  originalUrl?: string;
  url?: string;
  socket?: IncomingMessage['socket'];
}

export function rawRequest(request: AnyRequest): IncomingMessage {
  return request.raw ?? (request as unknown as IncomingMessage);
}

/** The peer's address as the socket has it (never a forwarded header's claim). */
export function remoteAddress(request: AnyRequest): string | undefined {
  return rawRequest(request).socket?.remoteAddress;
}

/** The path the client asked for, query left out: under any global prefix Nest put before the dashboard's own. */
export function requestPath(request: AnyRequest): string {
  const url = request.originalUrl ?? rawRequest(request).url ?? '/';
  const end = url.indexOf('?');
  return end === -1 ? url : url.slice(0, end);
}

export function header(request: AnyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Node's response, taken over from the framework for a stream that it must not buffer or end: Fastify is told
 * with `hijack()`, Express has nothing of its own in between.
 */
export function takeOver(response: unknown): ServerResponse {
  const reply = response as { raw?: ServerResponse; hijack?: () => void };
  if (reply.raw !== undefined && typeof reply.hijack === 'function') {
    reply.hijack();
    return reply.raw;
  }
  return response as ServerResponse;
}
