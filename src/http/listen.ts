import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type GuardOptions, guardConnections } from './connection-guard.js';
import { loadTlsPair, type TlsFiles } from './tls-context.js';

/**
 * Idle keep-alive connections stay open this long. Longer than the idle timeout of the load
 * balancers in front of registries (AWS ALB and GCP default 60 s, nginx's upstream
 * keepalive_timeout 60 s), so they close first and never send a request on a socket Purser is
 * closing (a 502); docker and containerd (Go, 90 s idle) reuse one connection for a pull's
 * token and blob requests.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * A TLS handshake must finish within this (node's default is 120 s): a client that opens
 * connections and never completes one holds a slot of the connection cap only this long. A
 * real handshake on loopback or a LAN takes milliseconds, a slow link well under a second.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ListenOptions {
  tls?: TlsFiles | undefined;
  headersTimeout: number;
  /** 0 disables it (the proxy: a layer upload takes as long as it takes). */
  requestTimeout: number;
  /** Stream buffer size for requests and responses (the proxy uses larger ones). */
  highWaterMark?: number;
  /** Connection cap and request-body idle limit (connection-guard.ts). */
  guard: GuardOptions;
}

export function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  let host = hostPort.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port: Number(hostPort.slice(i + 1)) };
}

/** Creates an HTTP(S) server for `handler`, listens on host:port, resolves with it and its URL. */
export async function listenOn(
  hostPort: string,
  handler: RequestListener,
  o: ListenOptions,
): Promise<{ server: Server; url: URL }> {
  const { host, port } = splitHostPort(hostPort);
  // Room for a workload JWT in a Basic header (the verifier refuses those over 16 KiB itself).
  const maxHeaderSize = 64 * 1024;
  // Node checks headersTimeout/requestTimeout only this often (default 30 s, which would let a
  // slow client keep its socket for up to 30 s past either).
  const opts = {
    maxHeaderSize,
    connectionsCheckingInterval: 1_000,
    ...(o.highWaterMark ? { highWaterMark: o.highWaterMark } : {}),
  };
  const server = o.tls
    ? createHttpsServer(
        { ...loadTlsPair(o.tls).options, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS, ...opts },
        handler,
      )
    : createHttpServer(opts, handler);
  server.headersTimeout = o.headersTimeout;
  server.requestTimeout = o.requestTimeout;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  if (o.requestTimeout === 0) server.timeout = 0;
  guardConnections(server, o.guard);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { server, url: new URL(`${o.tls ? 'https' : 'http'}://${h}:${addr.port}`) };
}

/** Stops accepting, lets requests in flight finish, drops idle keep-alive connections. */
export function closeServer(s: Server | undefined): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeIdleConnections();
  });
}
