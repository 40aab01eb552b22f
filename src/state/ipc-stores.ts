import { PurserError } from '../core/errors.js';
import type { IpcChannel } from '../util/ipc-channel.js';
import type { ReplayStore } from './replay.js';
import type { Revocation, RevocationQuery, RevocationStore } from './revocation.js';
import type { Stores } from './stores.js';
import { checkThrottle, type ThrottleCheck, type ThrottlePolicy, type ThrottleStore } from './throttle.js';
import type { ThrottleSlots } from './throttle-slots.js';

/** The request type the stores travel under. */
const STORE = 'store';

/** What the workers' stores share through their primary (the login cache stays per worker). */
export type SharedStores = Pick<Stores, 'throttle' | 'revocation' | 'replay'>;

type Op =
  | {
      op:
        | 'throttle.retryAfter'
        | 'throttle.check'
        | 'throttle.remaining'
        | 'throttle.fail'
        | 'throttle.acquire';
      key: string;
      policy: ThrottlePolicy;
    }
  | { op: 'throttle.succeed' | 'throttle.release'; key: string }
  | { op: 'revocation.revoke'; revocation: Revocation }
  | { op: 'revocation.isRevoked'; query: RevocationQuery }
  | { op: 'replay.firstUse'; key: string; expiresAt: number };

/**
 * A worker's throttle, revocation and replay stores: each call is a request to the primary,
 * which holds the memory stores for all workers (storeHost). A primary that does not answer
 * in time fails the call (UNAVAILABLE: a 503, never a silent pass).
 */
export function ipcStores(channel: IpcChannel): SharedStores {
  const call = <T>(o: Op) => channel.request<T>(STORE, o);
  const throttle: ThrottleStore = {
    retryAfter: (key, policy) => call<number>({ op: 'throttle.retryAfter', key, policy }),
    // One round trip per login (a cached one included): without it a login asked retryAfter
    // and then, not knowing whether there were failures to forget, sent succeed too.
    check: (key, policy) => call<ThrottleCheck>({ op: 'throttle.check', key, policy }),
    remaining: (key, policy) => call<number>({ op: 'throttle.remaining', key, policy }),
    fail: (key, policy) => call<void>({ op: 'throttle.fail', key, policy }),
    succeed: (key) => call<void>({ op: 'throttle.succeed', key }),
    acquire: (key, policy) => call<boolean>({ op: 'throttle.acquire', key, policy }),
    release: (key) => call<void>({ op: 'throttle.release', key }),
  };
  const revocation: RevocationStore = {
    revoke: (r) => call<void>({ op: 'revocation.revoke', revocation: r }),
    isRevoked: (query) => call<boolean>({ op: 'revocation.isRevoked', query }),
  };
  const replay: ReplayStore = {
    firstUse: (key, expiresAt) => call<boolean>({ op: 'replay.firstUse', key, expiresAt }),
  };
  return { throttle, revocation, replay };
}

/**
 * Serves `stores` to one worker over `channel` (the primary's side of ipcStores); `owner`
 * names the worker in `slots`, which gate concurrent checks of a key across all workers.
 */
export function serveStores(
  channel: IpcChannel,
  owner: number,
  stores: SharedStores,
  slots: ThrottleSlots,
): void {
  channel.handle(STORE, (body) => {
    const o = body as Op;
    switch (o?.op) {
      case 'throttle.retryAfter':
        return stores.throttle.retryAfter(key(o.key), policy(o.policy));
      case 'throttle.check':
        return checkThrottle(stores.throttle, key(o.key), policy(o.policy));
      case 'throttle.remaining':
        return stores.throttle.remaining(key(o.key), policy(o.policy));
      case 'throttle.fail':
        return stores.throttle.fail(key(o.key), policy(o.policy)).then(() => null);
      case 'throttle.succeed':
        return stores.throttle.succeed(key(o.key)).then(() => null);
      case 'throttle.acquire':
        return slots.acquire(owner, key(o.key), policy(o.policy));
      case 'throttle.release':
        slots.release(owner, key(o.key));
        return null;
      case 'revocation.revoke':
        return stores.revocation.revoke(o.revocation).then(() => null);
      case 'revocation.isRevoked':
        return stores.revocation.isRevoked(o.query);
      case 'replay.firstUse':
        if (!Number.isFinite(o.expiresAt)) throw badRequest('expiresAt');
        return stores.replay.firstUse(key(o.key), o.expiresAt);
      default:
        throw badRequest('op');
    }
  });
}

// The workers are this program, but a store bounds what it keeps by these shapes.
function key(k: unknown): string {
  if (typeof k !== 'string' || k.length > 4096) throw badRequest('key');
  return k;
}

function policy(p: unknown): ThrottlePolicy {
  const q = p as ThrottlePolicy | undefined;
  if (!q || !Number.isInteger(q.max) || !Number.isFinite(q.windowSeconds)) throw badRequest('policy');
  return { max: q.max, windowSeconds: q.windowSeconds };
}

function badRequest(what: string): PurserError {
  return new PurserError('UNAVAILABLE', `worker IPC (store): malformed ${what}`);
}
