import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { FairQueue } from '../util/fair-queue.js';
import { bcryptHash, bcryptVerify } from './bcrypt.js';

export type BcryptVerifier = (password: string, hash: string) => Promise<boolean>;

// bcrypt runs on libuv's pool (UV_THREADPOOL_SIZE, default 4), which file system calls and
// DNS lookups share: leave one thread to them, and use no more threads than there are cores.
const POOL = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const SHARED = new FairQueue(Math.max(1, Math.min(availableParallelism(), POOL - 1)));

/** The process-wide queue, read by the metrics (its depth). */
export const passwordQueue = (): FairQueue => SHARED;

// Recent real check durations kept, to draw the time an imitated check takes from.
const SAMPLES = 64;

/**
 * Every bcrypt verification of a login goes through here:
 * - through one process-wide fair queue (round-robin per client address), so a flood of
 *   wrong passwords from one address waits behind itself, not in front of other callers;
 * - timed (queue wait included), so that a check that needs no bcrypt (an unknown user, a
 *   plaintext password) can wait as long as a real one does — `imitate()` sleeps for a
 *   duration drawn from recent real checks and costs no CPU, so a flood of unknown
 *   usernames cannot occupy the pool real logins need.
 * Until a real check has been timed, `imitate()` waits for a calibration: one bcrypt hash
 * at `cost` (hashing costs what verifying does), started in the background at construction.
 */
export class PasswordChecks {
  readonly #queue: FairQueue;
  readonly #verify: BcryptVerifier;
  readonly #samples: number[] = [];
  #next = 0;
  #calibration: Promise<void> | undefined;

  constructor(cost: number, options: { verify?: BcryptVerifier; queue?: FairQueue } = {}) {
    this.#queue = options.queue ?? SHARED;
    this.#verify = options.verify ?? bcryptVerify;
    this.#calibration = this.#calibrate(cost);
  }

  async #calibrate(cost: number): Promise<void> {
    const t = performance.now();
    await this.#queue
      .run('', () => bcryptHash('purser timing calibration', cost))
      .then(() => this.#record(performance.now() - t))
      // A full queue: the first real check will be the sample instead.
      .catch(() => this.#record(performance.now() - t));
  }

  #record(ms: number): void {
    if (this.#samples.length < SAMPLES) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % SAMPLES;
  }

  /** Verifies `password` against `hash`, queued under `queueKey` (the client's address). */
  async verify(password: string, hash: string, queueKey: string): Promise<boolean> {
    const t = performance.now();
    const ok = await this.#queue.run(queueKey, () => this.#verify(password, hash));
    this.#record(performance.now() - t);
    return ok;
  }

  /** Takes as long as a real check does, without doing one. */
  async imitate(): Promise<void> {
    if (this.#calibration) {
      await this.#calibration;
      this.#calibration = undefined;
    }
    const ms = this.#samples[Math.floor(Math.random() * this.#samples.length)] ?? 0;
    await sleep(ms);
  }
}

let fallback: PasswordChecks | undefined;

/** Imitates a cost-10 check, for a token service configured without static users. */
export function imitateDefaultCheck(): Promise<void> {
  fallback ??= new PasswordChecks(10);
  return fallback.imitate();
}
