// Lease-based leader election (client-go's leaderelection, which client-node lacks), on
// coordination.k8s.io/v1 Leases with optimistic concurrency (resourceVersion):
// - a candidate takes the Lease when it is free (no holder) or expired: not renewed within
//   leaseDuration as measured on THIS replica's clock since it last saw the Lease change, so
//   clock skew between replicas does not matter;
// - the leader renews every retryPeriod; when it has not renewed for renewDeadline
//   (< leaseDuration) it stops leading before any other replica can take over;
// - on stop, a leader releases the Lease (empty holder) so a successor need not wait.
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { describeApiError, statusOf } from './errors.js';
import type { Logger } from './log.js';

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** A MicroTime as the API wants it (client-node sends Date's milliseconds otherwise). */
const microTime = (d: Date): Date =>
  Object.assign(new Date(d.getTime()), { toJSON: () => `${d.toISOString().slice(0, 23)}000Z` });

export class LeaderElector {
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  /** The last Lease seen, and when (on our clock) its resourceVersion last changed. */
  #observed: { rv: string; at: number; holder: string } | undefined;
  #lastRenew = 0;
  /** Steps down at lastRenew + renewDeadline even if a renewal hangs. */
  #watchdog: NodeJS.Timeout | undefined;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly opts: LeaderOptions,
    private readonly cb: LeaderCallbacks,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#loop = this.#tick();
    }, ms);
  }

  async #tick(): Promise<void> {
    // client-node sets no timeout on calls: a hung one must not stall the election.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), this.opts.renewDeadlineMs);
    });
    const ok = await Promise.race([this.#tryAcquireOrRenew(), timeout]);
    clearTimeout(timer);
    if (this.#stopped) return;
    const now = this.now();
    if (ok) {
      this.#lastRenew = now;
      clearTimeout(this.#watchdog);
      this.#watchdog = setTimeout(
        () => this.#stepDown('the Lease could not be renewed within the renew deadline'),
        this.opts.renewDeadlineMs,
      );
      if (!this.#leading) {
        this.#leading = true;
        this.log('info', 'became the leader', {
          lease: `${this.opts.namespace}/${this.opts.name}`,
          identity: this.opts.identity,
        });
        this.cb.onStartedLeading();
      }
    } else if (this.#leading && now - this.#lastRenew >= this.opts.renewDeadlineMs) {
      this.#stepDown('the Lease could not be renewed within the renew deadline');
    }
    this.#schedule(this.opts.retryPeriodMs);
  }

  #stepDown(why: string): void {
    if (!this.#leading) return;
    clearTimeout(this.#watchdog);
    this.#leading = false;
    this.log('warn', 'stopped leading', { reason: why, identity: this.opts.identity });
    this.cb.onStoppedLeading();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const now = new Date(this.now());
    const spec = (prev: V1Lease | undefined) => {
      const takeover = prev?.spec?.holderIdentity !== identity;
      return {
        holderIdentity: identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000)),
        acquireTime: microTime(
          takeover ? now : new Date(String(prev?.spec?.acquireTime ?? now.toISOString())),
        ),
        renewTime: microTime(now),
        leaseTransitions:
          (prev?.spec?.leaseTransitions ?? 0) + (takeover && prev?.spec?.holderIdentity ? 1 : 0),
      };
    };
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusOf(err) !== 404) {
        this.log('warn', 'reading the Lease failed', { error: describeApiError('get lease', err) });
        return false;
      }
      try {
        const created = await this.api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: spec(undefined) },
        });
        this.#observe(created);
        return true;
      } catch (e) {
        if (statusOf(e) !== 409)
          this.log('warn', 'creating the Lease failed', { error: describeApiError('create lease', e) });
        return false;
      }
    }
    this.#observe(lease);
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder && holder !== identity) {
      const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
      if (this.now() - this.#observed!.at < durationMs) return false; // held and not expired
    }
    try {
      const updated = await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { metadata: { ...lease.metadata, name, namespace }, spec: { ...lease.spec, ...spec(lease) } },
      });
      this.#observe(updated);
      return true;
    } catch (e) {
      // 409: another replica wrote first; it holds the Lease now.
      if (statusOf(e) !== 409)
        this.log('warn', 'updating the Lease failed', { error: describeApiError('update lease', e) });
      return false;
    }
  }

  #observe(l: V1Lease): void {
    const rv = l.metadata?.resourceVersion ?? '';
    if (this.#observed?.rv !== rv)
      this.#observed = { rv, at: this.now(), holder: l.spec?.holderIdentity ?? '' };
  }

  /** Stops campaigning; a leader releases the Lease (best effort) after stopping its work. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#watchdog);
    await this.#loop;
    if (!this.#leading) return;
    this.#stepDown('stopping');
    const { namespace, name, identity } = this.opts;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date(this.now())),
          },
        },
      });
      this.log('info', 'released the Lease', { lease: `${namespace}/${name}` });
    } catch (e) {
      this.log('warn', 'releasing the Lease failed', { error: describeApiError('release lease', e) });
    }
  }
}
