import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../util/log.js';

/** Why the guard closed a connection (a metric label: a small fixed set). */
export type GuardReason = 'max_connections' | 'body_idle';

export interface GuardOptions {
  /** Names the listener in logs and metrics: `token` or `proxy`. */
  name: string;
  /** Connections held at once; the next one is closed as soon as it is accepted. 0: no cap. */
  maxConnections: number;
  /** A request body that brings no byte for this long (ms) loses its connection. 0: never. */
  bodyIdleMs: number;
  log: Logger;
  onClosed: (reason: GuardReason) => void;
}

interface Pending {
  req: IncomingMessage;
  socket: Socket;
  bytesRead: number;
  since: number;
}

// At most one line per this long about refused connections: a flood must not flood the log.
const LOG_EVERY_MS = 10_000;

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

/**
 * Keeps a listener's sockets from piling up (issue 8, hole 3): a cap on connections, a limit
 * on request bodies that stop arriving, and no keep-alive after a response that was sent
 * before its request's body was read: Node would otherwise drain the rest of that body for
 * as long as the client cares to trickle it.
 *
 * Idleness is measured on the socket's byte counter, swept once a second, so a multi-GiB
 * upload costs nothing per chunk; a body the server itself is not reading (still
 * authorising, waiting for an upstream connection, or paused by backpressure) is not idle.
 */
export function guardConnections(server: Server, o: GuardOptions): void {
  if (o.maxConnections > 0) server.maxConnections = o.maxConnections;
  let dropped = 0;
  let lastLog = 0;
  server.on('drop', () => {
    o.onClosed('max_connections');
    dropped++;
    const now = Date.now();
    if (now - lastLog < LOG_EVERY_MS) return;
    o.log.warn('connection limit reached; new connections are closed', {
      listener: o.name,
      maxConnections: o.maxConnections,
      closed: dropped,
    });
    lastLog = now;
    dropped = 0;
  });

  // One entry per connection with a request body still arriving: bounded by maxConnections.
  const pending = new Set<Pending>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (!hasBody(req)) return;
    closeIfAnsweredEarly(req, res);
    if (o.bodyIdleMs <= 0) return;
    const p: Pending = { req, socket: req.socket, bytesRead: req.socket.bytesRead, since: Date.now() };
    pending.add(p);
    const done = () => pending.delete(p);
    req.once('end', done);
    req.once('close', done);
    res.once('close', done);
  };
  // Ahead of the handler: it may answer synchronously, and the hook must be in place first.
  server.prependListener('request', onRequest);
  // A handler of Expect: 100-continue gets those requests instead of 'request'. The hook joins
  // only beside one: a listener of its own would stop Node from sending 100 Continue itself.
  let onContinue = false;
  const hookContinue = () => {
    if (onContinue) return;
    onContinue = true;
    server.prependListener('checkContinue', onRequest);
  };
  if (server.listenerCount('checkContinue') > 0) hookContinue();
  else
    server.on('newListener', (event: string | symbol) => {
      if (event === 'checkContinue') hookContinue();
    });
  if (o.bodyIdleMs <= 0) return;

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const p of pending) {
        if (p.req.complete || p.socket.destroyed) {
          pending.delete(p);
          continue;
        }
        const read = p.socket.bytesRead;
        if (read !== p.bytesRead || p.req.readableFlowing !== true) {
          // Bytes came, or the server is not reading the body (yet): the clock starts again.
          p.bytesRead = read;
          p.since = now;
        } else if (now - p.since >= o.bodyIdleMs) {
          pending.delete(p);
          o.onClosed('body_idle');
          o.log.info('request body idle; connection closed', {
            listener: o.name,
            method: p.req.method,
            ms: now - p.since,
            ip: p.socket.remoteAddress,
          });
          p.socket.destroy();
        }
      }
    },
    Math.min(1_000, Math.max(50, o.bodyIdleMs / 4)),
  );
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}

/**
 * A response that starts before its request body has been read ends the connection once it
 * is flushed (Connection: close): a refused upload's body is not drained (RFC 9112 §9.6).
 */
// A small declared body after an early answer is read and dropped rather than cut off: closing
// a socket with unread bytes makes the kernel send a reset, and the client (still writing a
// few bytes of form, say) may lose the answer to it. Bounded in bytes and in time.
const DRAIN_MAX_BYTES = 64 * 1024;
const DRAIN_MAX_MS = 5_000;

function closeIfAnsweredEarly(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead;
  // Node writes `Connection: close` itself and closes after the response when this is false;
  // implicit headers (res.write/end without writeHead) go through writeHead too.
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!req.complete) {
      const declared = Number(req.headers['content-length']);
      const small =
        req.headers['transfer-encoding'] === undefined &&
        req.headers.expect === undefined &&
        Number.isSafeInteger(declared) &&
        declared <= DRAIN_MAX_BYTES;
      if (small && !req.destroyed) {
        req.resume();
        const deadline = setTimeout(() => {
          if (!req.complete) req.socket.destroy();
        }, DRAIN_MAX_MS);
        deadline.unref();
        req.once('end', () => clearTimeout(deadline));
        req.once('close', () => clearTimeout(deadline));
      } else this.shouldKeepAlive = false;
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
