// HTTP/1.1 over a bare TCP socket, for tests where the wire matters: bodies that trickle or
// stop, sockets that stay open, connections refused at accept.
import { connect, type Socket } from 'node:net';

export interface RawRequest {
  socket: Socket;
  /** Everything the server has sent so far (latin1). */
  received(): string;
  /** Resolves with the ms from connect to the socket closing, whoever closed it. */
  closed: Promise<number>;
  /** Resolves once a whole response head has arrived, with its status. */
  status: Promise<number>;
  /** Writes one byte of body every `everyMs` until the socket closes. */
  trickle(everyMs: number): void;
  destroy(): void;
}

/** Opens a connection to `url`'s host and writes `head` (lines without the final blank line). */
export function rawRequest(url: string, head: string[], body = ''): RawRequest {
  const u = new URL(url);
  const started = Date.now();
  const socket = connect({ host: u.hostname, port: Number(u.port) });
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  let onStatus: (n: number) => void = () => {};
  const status = new Promise<number>((resolve) => {
    onStatus = resolve;
  });
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    const m = /^HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n/.exec(text);
    if (m) onStatus(Number(m[1]));
  });
  // A reset at close is how the server ends some of these: not a test failure by itself.
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      if (timer) clearInterval(timer);
      onStatus(0);
      resolve(Date.now() - started);
    }),
  );
  socket.write(`${[...head, `Host: ${u.host}`].join('\r\n')}\r\n\r\n${body}`);
  return {
    socket,
    received: () => text,
    closed,
    status,
    trickle(everyMs) {
      timer = setInterval(() => {
        if (!socket.destroyed && socket.writable) socket.write('x');
      }, everyMs);
    },
    destroy() {
      if (timer) clearInterval(timer);
      socket.destroy();
    },
  };
}

/** Resolves true if `p` settles within `ms`, false otherwise. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    t = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(t);
  }
}
