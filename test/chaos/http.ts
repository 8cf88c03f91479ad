import { request } from 'node:http';
import type { ItemSpec } from './spec.js';

/** How one POST /work ended, from the client's side. */
export type Reply =
  /** 202: the app accepted the item (`item` is the queue's id of it, a numeric string, as a number). */
  | { kind: 'accepted'; item: number }
  /** 503 from the exception filter: QueueFullError. */
  | { kind: 'full' }
  /** 503 from the exception filter: QueueClosedError (the queue closed after the request passed Nest's closing check). */
  | { kind: 'closed' }
  /** 503 from Nest's `return503OnClosing`: the application is closing. */
  | { kind: 'closing' }
  /** Any other status, or a body that does not parse: always a failure. */
  | { kind: 'status'; status: number; body: string }
  /** ECONNREFUSED: nothing listens (any more). */
  | { kind: 'refused' }
  /** The connection was reset or closed without an answer (ECONNRESET, "socket hang up", EPIPE). */
  | { kind: 'reset'; code: string }
  /** No answer within the client's time limit. */
  | { kind: 'hang' }
  | { kind: 'error'; code: string };

export type ReplyKind = Reply['kind'];

/**
 * POSTs one item over a connection of its own (`agent: false`, so `Connection: close`): no keep-alive socket can be
 * reused just as the server closes it, which would be a reset that says nothing about the app.
 */
export function postWork(port: number, spec: ItemSpec, hangMs: number): Promise<Reply> {
  const payload = JSON.stringify(spec);
  return new Promise<Reply>((resolve) => {
    let settled = false;
    const settle = (reply: Reply): void => {
      if (settled) return;
      settled = true;
      resolve(reply);
    };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/work',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => settle(classify(res.statusCode ?? 0, text)));
        res.on('error', (error: NodeJS.ErrnoException) => settle(connectionError(error)));
      },
    );
    req.setTimeout(hangMs, () => {
      settle({ kind: 'hang' });
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) => settle(connectionError(error)));
    req.end(payload);
  });
}

function classify(status: number, text: string): Reply {
  if (status === 202) {
    const body = parse(text) as { item?: unknown } | undefined;
    // WorkItem.id is a string ("17"): the queue's own items are numbered in order.
    if (typeof body?.item === 'string' && /^\d+$/.test(body.item)) return { kind: 'accepted', item: Number(body.item) };
  } else if (status === 503) {
    if (text === 'Service Unavailable') return { kind: 'closing' };
    const error = (parse(text) as { error?: unknown } | undefined)?.error;
    if (error === 'QueueFullError') return { kind: 'full' };
    if (error === 'QueueClosedError') return { kind: 'closed' };
  }
  return { kind: 'status', status, body: text.slice(0, 200) };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function connectionError(error: NodeJS.ErrnoException): Reply {
  const code = error.code ?? error.message;
  if (code === 'ECONNREFUSED') return { kind: 'refused' };
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/.test(error.message)) return { kind: 'reset', code };
  return { kind: 'error', code };
}

/** How one JSON request of the durable rounds ended: an answer (any status), or a connection error, or no answer in time. */
export type JsonReply =
  | { kind: 'answer'; status: number; body: unknown; text: string }
  | { kind: 'refused' }
  | { kind: 'reset'; code: string }
  | { kind: 'hang' }
  | { kind: 'error'; code: string };

/** One JSON request to 127.0.0.1 over a connection of its own (no keep-alive socket outlives a killed server). */
export function requestJson(port: number, method: 'GET' | 'POST', path: string, body: unknown, hangMs: number): Promise<JsonReply> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise<JsonReply>((resolve) => {
    let settled = false;
    const settle = (reply: JsonReply): void => {
      if (settled) return;
      settled = true;
      resolve(reply);
    };
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(payload) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => settle({ kind: 'answer', status: res.statusCode ?? 0, body: parse(text), text: text.slice(0, 300) }));
      res.on('error', (error: NodeJS.ErrnoException) => settle(connectionError(error) as JsonReply));
    });
    req.setTimeout(hangMs, () => {
      settle({ kind: 'hang' });
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) => settle(connectionError(error) as JsonReply));
    req.end(payload);
  });
}
