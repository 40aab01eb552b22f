// HTTP/1.1 over a bare TCP socket, for what fetch cannot send or show: absolute-form targets,
// Expect: 100-continue and the interim response, bytes as written.
import { connect, type Socket } from 'node:net';

export class RawConnection {
  readonly #socket: Socket;
  #received = '';
  #closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#received += d;
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static open(url: string): Promise<RawConnection> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const s = connect({ host: u.hostname, port: Number(u.port) }, () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  get received(): string {
    return this.#received;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /** Waits until `done(received)` holds, the peer closes, or `ms` pass; returns what arrived. */
  async waitFor(done: (text: string) => boolean, ms = 5_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!done(this.#received) && !this.#closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.#received;
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** True once `text` holds a complete final (non-1xx) response with a Content-Length body. */
export function hasFinalResponse(text: string): boolean {
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const head = rest.slice(0, end);
    if (/^HTTP\/1\.1 1\d\d /.test(head)) {
      rest = rest.slice(end + 4);
      continue;
    }
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    return rest.length - end - 4 >= len;
  }
}

/** The status of the last response head in `text`. */
export function lastStatus(text: string): number {
  const all = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)];
  return Number(all.at(-1)?.[1] ?? 0);
}

/** One request on a new connection; resolves with everything received once the response is complete. */
export async function rawRequest(url: string, request: string, ms = 5_000): Promise<string> {
  const c = await RawConnection.open(url);
  try {
    c.send(request);
    return await c.waitFor(hasFinalResponse, ms);
  } finally {
    c.close();
  }
}
