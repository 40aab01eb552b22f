import { type LoginCacheStore, MemoryLoginCacheStore } from './login-cache.js';
import { MemoryReplayStore, type ReplayStore } from './replay.js';
import { MemoryRevocationStore, type RevocationStore } from './revocation.js';
import { MemoryThrottleStore, type ThrottleStore } from './throttle.js';

/**
 * The state Purser keeps between requests. They outlive a reload (a lockout, a revocation
 * or a seen token stays), and several replicas can share them (a Redis implementation of
 * each interface). Purser does not close stores it was given.
 */
export interface Stores {
  throttle: ThrottleStore;
  revocation: RevocationStore;
  replay: ReplayStore;
  loginCache: LoginCacheStore;
}

/** In-memory stores for what `given` leaves out. */
export function withMemoryStores(given: Partial<Stores> = {}): Stores {
  return {
    throttle: given.throttle ?? new MemoryThrottleStore(),
    revocation: given.revocation ?? new MemoryRevocationStore(),
    replay: given.replay ?? new MemoryReplayStore(),
    loginCache: given.loginCache ?? new MemoryLoginCacheStore(),
  };
}
