import type { Dispatcher } from 'undici';
import { type LazyDispatcher, lazyDispatcher } from '../../util/lazy-dispatcher.js';

const MAX_BYTES = 1024 * 1024;

/** The agent for one issuer (made at the first fetch): its own CA when configured, keep-alive. */
export function issuerDispatcher(ca: string | undefined): LazyDispatcher {
  return lazyDispatcher(
    ({ Agent }) => new Agent({ connect: ca ? { ca } : {}, keepAliveTimeout: 30_000, connections: 4 }),
  );
}

/** GETs a JSON document with a timeout; throws an Error whose message says what went wrong. */
export async function fetchJson(
  url: string,
  dispatcher: LazyDispatcher,
  timeoutMs: number,
): Promise<unknown> {
  const { request } = await import('undici');
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Dispatcher.ResponseData<unknown>;
  try {
    res = await request(url, {
      dispatcher: await dispatcher.get(),
      signal,
      headers: { accept: 'application/json' },
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (signal.aborted) throw new Error(`timed out after ${timeoutMs} ms`);
    throw new Error(err.code ? `${err.code}: ${err.message}` : err.message);
  }
  try {
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body) {
      size += (c as Buffer).length;
      if (size > MAX_BYTES) throw new Error(`response larger than ${MAX_BYTES} bytes`);
      chunks.push(c as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new Error('response is not JSON');
    }
  } finally {
    // An unread body is drained, not destroyed: destroying it makes undici emit an 'error'
    // with no listener, which would take the process down.
    res.body.on('error', () => {});
    res.body.dump({ limit: 64 * 1024 }).catch(() => {});
  }
}
