// Fault injection: the next matching calls answer with a given Status instead of being served.
import { type Status, status } from './types.js';

export interface FaultMatch {
  /** The user whose token the call carried (KubeApi.addUser); any when absent. */
  user?: string;
  /** HTTP method (GET, POST, PUT, PATCH, DELETE); any when absent. */
  method?: string;
  /** Resource key (`serviceaccounts`, `leases.coordination.k8s.io`); any when absent. */
  resource?: string;
  /** `token`, for the TokenRequest subresource; '' for the resource itself; any when absent. */
  subresource?: string;
  /** Only watch requests (true), only non-watch requests (false), or both. */
  watch?: boolean;
  namespace?: string;
  name?: string;
}

export interface CallInfo {
  user: string;
  method: string;
  resource: string;
  subresource: string;
  watch: boolean;
  namespace: string | undefined;
  name: string | undefined;
}

export interface Fault {
  match: FaultMatch;
  /** How many calls it answers before it is spent (Infinity: until cleared). */
  times: number;
  status: Status;
  /**
   * For a watch: answer 200 and send the status as an ERROR event, then close (what the API
   * server does for a too-old resourceVersion), instead of an HTTP error status.
   */
  asWatchEvent: boolean;
}

export class Faults {
  readonly #faults: Fault[] = [];

  add(
    match: FaultMatch,
    code: number,
    reason: string,
    message: string,
    opts: { times?: number; asWatchEvent?: boolean } = {},
  ): void {
    this.#faults.push({
      match,
      times: opts.times ?? 1,
      status: status(code, reason, message),
      asWatchEvent: opts.asWatchEvent ?? false,
    });
  }

  clear(): void {
    this.#faults.length = 0;
  }

  /** The fault this call meets, spending one of its uses. */
  take(call: CallInfo): Fault | undefined {
    const i = this.#faults.findIndex(
      ({ match: m }) =>
        (m.user === undefined || m.user === call.user) &&
        (m.method === undefined || m.method === call.method) &&
        (m.resource === undefined || m.resource === call.resource) &&
        (m.subresource === undefined || m.subresource === call.subresource) &&
        (m.watch === undefined || m.watch === call.watch) &&
        (m.namespace === undefined || m.namespace === call.namespace) &&
        (m.name === undefined || m.name === call.name),
    );
    if (i < 0) return undefined;
    const f = this.#faults[i]!;
    if (--f.times <= 0) this.#faults.splice(i, 1);
    return f;
  }
}
