// The in-memory default stores against the shared store contracts (contracts.ts).
import { MemoryLoginCacheStore } from '../../../src/state/login-cache.js';
import { MemoryReplayStore } from '../../../src/state/replay.js';
import { MemoryRevocationStore } from '../../../src/state/revocation.js';
import { MemoryThrottleStore } from '../../../src/state/throttle.js';
import {
  loginCacheStoreContract,
  replayStoreContract,
  revocationStoreContract,
  throttleStoreContract,
} from './contracts.js';

throttleStoreContract('memory', (s) => new MemoryThrottleStore({ now: s.now, maxKeys: s.capacity ?? 1000 }));
revocationStoreContract(
  'memory',
  (s) => new MemoryRevocationStore({ now: s.now, maxEntries: s.capacity ?? 1000 }),
);
replayStoreContract('memory', (s) => new MemoryReplayStore({ now: s.now, maxEntries: s.capacity ?? 1000 }));
loginCacheStoreContract(
  'memory',
  (s) => new MemoryLoginCacheStore({ now: s.now, maxEntries: s.capacity ?? 1000 }),
);
