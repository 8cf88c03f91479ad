import { Catch, HttpStatus, Optional, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { QueueClosedError, QueueFullError } from '../queue/queue.errors.js';

/** Seconds a client should wait after a full queue: room comes back as items start. */
export const RETRY_AFTER_FULL_SECONDS = 1;
/** Seconds a client should wait after a closed queue: long enough for a load balancer to take this instance out. */
export const RETRY_AFTER_CLOSED_SECONDS = 5;

/** The body Nest's own exceptions have (`ServiceUnavailableException`). */
export interface ServiceUnavailableBody {
  statusCode: 503;
  message: string;
  error: 'Service Unavailable';
}

/**
 * Turns `QueueFullError` and `QueueClosedError` that reach Nest's exception layer into `503 Service Unavailable`
 * with a `Retry-After` header, instead of Nest's 500, on Express and Fastify:
 *
 * ```ts
 * app.useGlobalFilters(new BackgroundWorkExceptionFilter(app.get(HttpAdapterHost)));
 * // or, with injection: providers: [{ provide: APP_FILTER, useClass: BackgroundWorkExceptionFilter }]
 * ```
 *
 * Without an `HttpAdapterHost` (`new BackgroundWorkExceptionFilter()`) it answers through the response object, which
 * works on Express and Fastify too. Other errors are not caught. Extend it and override `retryAfter` for other delays.
 */
@Catch(QueueFullError, QueueClosedError)
export class BackgroundWorkExceptionFilter implements ExceptionFilter<QueueFullError | QueueClosedError> {
  constructor(@Optional() private readonly adapterHost?: HttpAdapterHost) {}

  catch(exception: QueueFullError | QueueClosedError, host: ArgumentsHost): void {
    // Microservices, WebSockets and GraphQL have their own error shapes: leave those errors as they were.
    if (host.getType() !== 'http') throw exception;
    const response: unknown = host.switchToHttp().getResponse();
    const body: ServiceUnavailableBody = {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      message: exception instanceof QueueFullError ? `Queue "${exception.queue}" is full: try again shortly` : 'The server is shutting down: try again shortly',
      error: 'Service Unavailable',
    };
    const retryAfter = String(this.retryAfter(exception));
    const adapter = this.adapterHost?.httpAdapter;
    if (adapter !== undefined) {
      // A streamed response has already sent its status: all that is left is to end it.
      if (adapter.isHeadersSent(response)) return void adapter.end(response);
      adapter.setHeader(response, 'Retry-After', retryAfter);
      adapter.reply(response, body, HttpStatus.SERVICE_UNAVAILABLE);
      return;
    }
    replyWithoutAdapter(response, body, retryAfter);
  }

  /** Seconds for `Retry-After`: 1 for a full queue, 5 for one closed by shutdown. */
  protected retryAfter(exception: QueueFullError | QueueClosedError): number {
    return exception instanceof QueueFullError ? RETRY_AFTER_FULL_SECONDS : RETRY_AFTER_CLOSED_SECONDS;
  }
}

interface FastifyReply {
  sent: boolean;
  code(status: number): FastifyReply;
  header(name: string, value: string): FastifyReply;
  send(body: unknown): unknown;
}
interface NodeResponse {
  headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  statusCode: number;
  end(body?: string): unknown;
}

/** Fastify's reply or Node's response (which Express extends), told apart by their own methods. */
function replyWithoutAdapter(response: unknown, body: ServiceUnavailableBody, retryAfter: string): void {
  const reply = response as Partial<FastifyReply>;
  if (typeof reply.code === 'function' && typeof reply.header === 'function' && typeof reply.send === 'function') {
    if (reply.sent === true) return;
    reply.code(body.statusCode).header('Retry-After', retryAfter).header('Content-Type', 'application/json; charset=utf-8');
    reply.send(JSON.stringify(body));
    return;
  }
  const res = response as NodeResponse;
  if (res.headersSent) return void res.end();
  res.statusCode = body.statusCode;
  res.setHeader('Retry-After', retryAfter);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
