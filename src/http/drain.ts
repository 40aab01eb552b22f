import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** How often idle keep-alive connections are looked for while draining. */
const SWEEP_MS = 100;

/**
 * Graceful stop of a listener: no new connection is accepted; a request in flight finishes
 * (a proxied layer keeps streaming) and its connection closes after the response; a request
 * arriving on a kept-alive connection meanwhile is still answered, with `Connection: close`.
 * Past `deadlineMs` the connections left are cut. Resolves with how many were cut.
 */
export async function drainServer(server: Server | undefined, deadlineMs: number): Promise<number> {
  if (!server?.listening) return 0;
  const lastResponse = (_req: IncomingMessage, res: ServerResponse) => {
    res.shouldKeepAlive = false;
  };
  server.prependListener('request', lastResponse);
  // Only beside a handler of its own: a listener there stops Node answering 100 Continue itself.
  if (server.listenerCount('checkContinue') > 0) server.prependListener('checkContinue', lastResponse);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A connection becomes idle when its response ends: close it then, not at its keep-alive timeout.
  const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    closed.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), deadlineMs);
    }),
  ]);
  clearInterval(sweep);
  clearTimeout(timer);
  if (!late) return 0;
  const left = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n ?? 0)));
  server.closeAllConnections();
  await closed;
  return left;
}
