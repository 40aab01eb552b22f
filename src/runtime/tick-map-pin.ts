import { executionAsyncResource } from 'node:async_hooks';

/**
 * Keeps one of `process.nextTick`'s queue entries alive for the life of the process, so V8
 * never collects the hidden classes (maps) its entries are built with.
 *
 * Why: Node builds each entry as `{ [async_id_symbol]: …, [trigger_async_id_symbol]: …,
 * callback, args }`. V8 remembers, at each computed key of that literal, the one map it has
 * seen, and only weakly. If a full garbage collection runs while no entry is alive (an idle
 * moment after start-up, say), the maps die, the next entry gets new ones, and V8 marks the
 * sites megamorphic for good: from then on every `nextTick` defines those two properties in
 * V8's runtime instead of in optimized code. Node's streams call `nextTick` five or six
 * times per HTTP request; in a token server whose process had hit this, it cost ~3 µs of a
 * ~100 µs request, and ~6 µs in the bench's bare floor forced into it (bench/README.md,
 * seventh scale-out stop). Whether a process hit it depended on when its collections ran,
 * so two runs of one build differed.
 *
 * Call it first, before the modules that run `nextTick`: the entry is held from the moment
 * it is queued. Idempotent; harmless where Node builds its entries otherwise.
 */
let pinned: object | undefined;
let queued = false;

export function pinTickObjectMap(): void {
  if (queued) return;
  queued = true;
  process.nextTick(() => {
    const entry = executionAsyncResource();
    // The entry itself is the resource of a tick callback (two symbol keys, a callback).
    if (entry && typeof entry === 'object' && Object.hasOwn(entry, 'callback')) pinned = entry;
  });
}

/** Whether an entry is held (for tests). */
export function tickObjectMapPinned(): boolean {
  return pinned !== undefined;
}
