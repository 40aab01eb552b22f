import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/**
 * Responses ended together, once the requests of this event-loop turn have been answered
 * (`setImmediate`), instead of each as soon as it is ready.
 *
 * Why: a response sent over loopback or a veth pair (a sidecar, an ingress or a client on
 * the same node) is delivered by the sender's kernel, which also wakes the receiving
 * process, and on a VM waking a CPU that went idle is an inter-processor interrupt through
 * the hypervisor. Sent one at a time between the requests' own work, nearly every response
 * finds its client asleep again. Sent in a burst, only the first does: on the bench's 2-core
 * VM that was 112 → 80 µs of the server's CPU per token and 1.42× the tokens
 * (bench/README.md, eighth scale-out stop). The cost is latency within a turn: a response
 * waits for at most `max - 1` others to be computed (about 1 ms at 16), and not at all when
 * a turn holds one request. Four parallel arrays, not an object per response: nothing is
 * allocated per response but the arrays' growth.
 *
 * Contract: `end` answers `res` with exactly these status, headers and body, at the latest
 * when the turn's immediates run; a response that another path has answered or destroyed by
 * then is left alone (the first answer wins, as with `res.end` itself); one response that
 * cannot be written does not keep the others from theirs.
 */
export class ResponseBatch {
  #res: ServerResponse[] = [];
  #status: number[] = [];
  #headers: OutgoingHttpHeaders[] = [];
  #body: string[] = [];
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** `max`: responses held at most, asked at each `end` (a reload may change it); 1 writes each at once. */
  constructor(private readonly max: () => number) {}

  end(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: string): void {
    const max = this.max();
    if (max <= 1 && this.#res.length === 0) {
      write(res, status, headers, body);
      return;
    }
    this.#res.push(res);
    this.#status.push(status);
    this.#headers.push(headers);
    this.#body.push(body);
    if (this.#res.length >= max) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Whether `res` is waiting here: its answer is decided, though not yet written. */
  holds(res: ServerResponse): boolean {
    return this.#res.includes(res);
  }

  /** Writes every response held now. */
  flush(): void {
    const n = this.#res.length;
    if (n === 0) return;
    const res = this.#res;
    const status = this.#status;
    const headers = this.#headers;
    const body = this.#body;
    this.#res = [];
    this.#status = [];
    this.#headers = [];
    this.#body = [];
    for (let i = 0; i < n; i++) write(res[i]!, status[i]!, headers[i]!, body[i]!);
  }
}

function write(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: string): void {
  if (res.destroyed || res.headersSent) return;
  try {
    res.writeHead(status, headers).end(body);
  } catch {
    // Only a header value node refuses can throw here, and ours are constants or built by
    // errorAnswer: should one ever fail, that client loses its connection, not the batch.
    res.destroy();
  }
}
