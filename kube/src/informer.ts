// A watch that keeps going. client-node's informer relists on 410 and re-watches after a clean
// close, but STOPS on any other error (a 500, a cut connection, a failed list) and can stall
// silently (client-node issues #958, #364). This wrapper restarts it after an error with
// jittered exponential backoff, and replaces it with a fresh one (a full relist, so every
// object is handed to `onObject` again) every relist interval.
import {
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  makeInformer,
} from '@kubernetes/client-node';
import { describeApiError } from './errors.js';
import type { Logger } from './log.js';
import { backoffMs } from './schedule.js';

export interface WatchedOptions<T extends KubernetesObject> {
  /** For logs and metrics: `serviceaccounts`, `namespaces`, `secrets`. */
  resource: string;
  path: string;
  list: ListPromise<T>;
  labelSelector?: string;
  relistIntervalMs: number;
  onObject: (o: T, event: 'add' | 'update' | 'delete') => void;
  onRestart?: (reason: 'error' | 'relist') => void;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

type Informer<T extends KubernetesObject> = ReturnType<typeof makeInformer<T>>;

export class ResilientInformer<T extends KubernetesObject> {
  #current: Informer<T> | undefined;
  #generation = 0;
  #failures = 0;
  #lastFailure = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #relistTimer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(
    private readonly kc: KubeConfig,
    private readonly o: WatchedOptions<T>,
    private readonly log: Logger,
  ) {}

  /** The objects the current informer holds (empty until its first list). */
  list(namespace?: string): readonly T[] {
    return this.#current?.list(namespace) ?? [];
  }

  start(): void {
    this.#stopped = false;
    this.#spawn();
    this.#relistTimer = setInterval(() => this.#replace('relist'), this.o.relistIntervalMs);
    this.#relistTimer.unref?.();
  }

  #spawn(): void {
    const gen = ++this.#generation;
    const inf = makeInformer<T>(this.kc, this.o.path, this.o.list, this.o.labelSelector);
    const live = () => gen === this.#generation && !this.#stopped;
    for (const ev of ['add', 'update', 'delete'] as const)
      inf.on(ev, (obj: T) => {
        if (live()) this.o.onObject(obj, ev);
      });
    inf.on('error', (err: unknown) => {
      if (!live()) return;
      this.#onError(err);
    });
    this.#current = inf;
    inf.start().catch((err: unknown) => {
      if (live()) this.#onError(err);
    });
  }

  #onError(err: unknown): void {
    const now = Date.now();
    // A minute without failing resets the backoff.
    if (now - this.#lastFailure > 60_000) this.#failures = 0;
    this.#failures++;
    this.#lastFailure = now;
    const delay = backoffMs(this.#failures, this.o.backoffMinMs ?? 500, this.o.backoffMaxMs ?? 30_000);
    this.log('warn', 'watch failed; restarting', {
      resource: this.o.resource,
      error: describeApiError(`watch ${this.o.resource}`, err),
      retryInMs: delay,
    });
    const old = this.#current;
    this.#current = undefined;
    this.#generation++;
    old?.stop().catch(() => {});
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (this.#stopped) return;
      this.o.onRestart?.('error');
      this.#spawn();
    }, delay);
  }

  #replace(reason: 'relist'): void {
    if (this.#stopped || !this.#current) return; // a restart after an error is pending
    this.o.onRestart?.(reason);
    const old = this.#current;
    this.#spawn();
    old.stop().catch(() => {});
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#generation++;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#relistTimer);
    const cur = this.#current;
    this.#current = undefined;
    await cur?.stop();
  }
}
