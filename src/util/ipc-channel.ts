import { ERROR_CODES, isPurserError, PurserError, type PurserErrorCode } from '../core/errors.js';

/** One side of a node IPC link: `process` in a worker, a cluster `Worker` in the primary. */
export interface IpcEndpoint {
  send(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

type Handler = (body: unknown) => unknown;

interface Request {
  '@purser': 'req';
  id: number;
  type: string;
  body: unknown;
}

interface Response {
  '@purser': 'res';
  id: number;
  ok: boolean;
  body?: unknown;
  error?: { code: string; message: string };
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface IpcChannelOptions {
  /** How long a request waits for its answer (ms). */
  timeoutMs?: number;
  /** Requests awaiting an answer at once; more are refused at once. */
  maxPending?: number;
}

/**
 * Request/response over a node IPC link, both ways: each request has an id, a timeout and
 * one answer; a handler's PurserError crosses with its code (any other error as
 * UNAVAILABLE). Messages not of this protocol (node's, prom-client's) are left alone.
 */
export class IpcChannel {
  readonly #endpoint: IpcEndpoint;
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<number, Pending>();
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  #nextId = 1;
  #closed = false;
  readonly #onMessage = (m: unknown) => this.#receive(m);

  constructor(endpoint: IpcEndpoint, options: IpcChannelOptions = {}) {
    this.#endpoint = endpoint;
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    this.#maxPending = options.maxPending ?? 10_000;
    endpoint.on('message', this.#onMessage);
  }

  /** Answers requests of `type` with `handler`'s result (a value that survives IPC's JSON). */
  handle(type: string, handler: Handler): void {
    this.#handlers.set(type, handler);
  }

  get pending(): number {
    return this.#pending.size;
  }

  request<T>(type: string, body: unknown, timeoutMs = this.#timeoutMs): Promise<T> {
    if (this.#closed) return Promise.reject(ipcError(type, 'the channel is closed'));
    if (this.#pending.size >= this.#maxPending)
      return Promise.reject(ipcError(type, 'too many requests in flight'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(ipcError(type, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: Request = { '@purser': 'req', id, type, body };
      if (!this.#send(msg)) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(ipcError(type, 'the channel is closed'));
      }
    });
  }

  /** Stops listening; requests awaiting an answer fail at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.off('message', this.#onMessage);
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(ipcError('request', 'the channel is closed'));
    }
  }

  #send(msg: Request | Response): boolean {
    try {
      return this.#endpoint.send(msg);
    } catch {
      // A disconnected channel throws ERR_IPC_CHANNEL_CLOSED.
      return false;
    }
  }

  #receive(m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const tag = (m as { '@purser'?: unknown })['@purser'];
    if (tag === 'res') this.#answer(m as Response);
    else if (tag === 'req') void this.#serve(m as Request);
  }

  #answer(r: Response): void {
    const p = this.#pending.get(r.id);
    if (!p) return; // timed out already
    this.#pending.delete(r.id);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.body);
    else {
      const code = r.error?.code ?? 'UNAVAILABLE';
      p.reject(
        code in ERROR_CODES
          ? new PurserError(code as PurserErrorCode, r.error?.message ?? 'error')
          : ipcError('answer', r.error?.message ?? 'error'),
      );
    }
  }

  async #serve(q: Request): Promise<void> {
    const handler = this.#handlers.get(q.type);
    let out: Response;
    try {
      if (!handler) throw ipcError(String(q.type).slice(0, 40), 'no handler for this request');
      out = { '@purser': 'res', id: q.id, ok: true, body: await handler(q.body) };
    } catch (e) {
      const error = isPurserError(e)
        ? { code: e.code, message: e.message }
        : { code: 'UNAVAILABLE', message: ipcError(q.type, (e as Error).message).message };
      out = { '@purser': 'res', id: q.id, ok: false, error };
    }
    if (!this.#closed) this.#send(out);
  }
}

function ipcError(type: string, reason: string): PurserError {
  return new PurserError('UNAVAILABLE', `worker IPC (${type}): ${reason}`);
}
