// The controller: watches ServiceAccounts, opted-in namespaces and its own Secrets (on every
// replica, so a new leader starts warm), and — on the leader only — reconciles each
// ServiceAccount through a work queue: at once on a change, then when its token is due, with
// backoff after a failure. Losing the Lease stops and forgets all queued work.

import type { Server } from 'node:http';
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Namespace,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { KubeControllerError } from './errors.js';
import { EventRecorder } from './events.js';
import { ResilientInformer } from './informer.js';
import { LeaderElector } from './leader.js';
import type { Logger } from './log.js';
import { ControllerMetrics, serveMetrics } from './metrics.js';
import type { ControllerOptions } from './options.js';
import { MANAGED_BY, MANAGED_BY_LABEL } from './pull-secret.js';
import { WorkQueue } from './queue.js';
import { reconcile } from './reconcile.js';
import { backoffMs } from './schedule.js';

/** Backoff after a failed reconcile: 1 s doubling to 5 min. */
const FAIL_MIN_MS = 1000;
const FAIL_MAX_MS = 300_000;
/** Failure counts kept (one per failing key; a success forgets it). */
const MAX_FAILURE_KEYS = 100_000;

export class Controller {
  readonly metrics = new ControllerMetrics();
  readonly elector: LeaderElector;
  readonly queue: WorkQueue;
  readonly #core: CoreV1Api;
  readonly #informers: ResilientInformer<V1ServiceAccount | V1Namespace | V1Secret>[] = [];
  readonly #sas: ResilientInformer<V1ServiceAccount>;
  readonly #failures = new Map<string, number>();
  readonly #events: EventRecorder;
  #metricsServer: Server | undefined;
  #started = false;

  constructor(
    kc: KubeConfig,
    private readonly o: ControllerOptions,
    private readonly log: Logger,
  ) {
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#events = new EventRecorder(this.#core, o.identity, log);
    this.queue = new WorkQueue((key) => this.#work(key));
    this.elector = new LeaderElector(
      kc.makeApiClient(CoordinationV1Api),
      {
        namespace: o.leaseNamespace,
        name: o.leaseName,
        identity: o.identity,
        leaseDurationMs: o.leaseDurationMs,
        renewDeadlineMs: o.renewDeadlineMs,
        retryPeriodMs: o.retryPeriodMs,
      },
      { onStartedLeading: () => this.#lead(), onStoppedLeading: () => this.#follow() },
      log,
    );
    const restarts = (resource: string) => (reason: 'error' | 'relist') =>
      this.metrics.watchRestarts.inc({ resource, reason });
    this.#sas = new ResilientInformer<V1ServiceAccount>(
      kc,
      {
        resource: 'serviceaccounts',
        path: '/api/v1/serviceaccounts',
        list: () => this.#core.listServiceAccountForAllNamespaces(),
        relistIntervalMs: o.relistIntervalMs,
        onObject: (sa) => this.#enqueue(sa.metadata?.namespace, sa.metadata?.name),
        onRestart: restarts('serviceaccounts'),
      },
      log,
    );
    // Only labelled namespaces: a label taken off arrives as a delete (the watch's selector).
    const namespaces = new ResilientInformer<V1Namespace>(
      kc,
      {
        resource: 'namespaces',
        path: '/api/v1/namespaces',
        list: () => this.#core.listNamespace({ labelSelector: o.namespaceLabel }),
        labelSelector: o.namespaceLabel,
        relistIntervalMs: o.relistIntervalMs,
        onObject: (ns) => {
          for (const sa of this.#sas.list(ns.metadata?.name))
            this.#enqueue(sa.metadata?.namespace, sa.metadata?.name);
        },
        onRestart: restarts('namespaces'),
      },
      log,
    );
    // Our own Secrets: one deleted or edited by hand is rewritten at once.
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    const secrets = new ResilientInformer<V1Secret>(
      kc,
      {
        resource: 'secrets',
        path: '/api/v1/secrets',
        list: () => this.#core.listSecretForAllNamespaces({ labelSelector: selector }),
        labelSelector: selector,
        relistIntervalMs: o.relistIntervalMs,
        onObject: (s, event) => {
          const owner = s.metadata?.ownerReferences?.find((r) => r.kind === 'ServiceAccount');
          // Our own writes come back as updates: only a deletion needs work now.
          if (owner && event === 'delete') this.#enqueue(s.metadata?.namespace, owner.name);
        },
        onRestart: restarts('secrets'),
      },
      log,
    );
    this.#informers.push(this.#sas as never, namespaces as never, secrets as never);
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  /** The /metrics port actually listened on (for --metrics-port 0). */
  get metricsPort(): number | undefined {
    const a = this.#metricsServer?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#metricsServer = await serveMetrics(
      this.metrics,
      this.o.metricsPort,
      this.o.metricsAddress,
      () => this.#started,
    );
    for (const inf of this.#informers) inf.start();
    this.elector.start();
    this.log('info', 'kube-controller started', {
      identity: this.o.identity,
      lease: `${this.o.leaseNamespace}/${this.o.leaseName}`,
      registry: this.o.registry,
      service: this.o.service,
      metricsPort: this.metricsPort,
    });
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.queue.clear();
    await this.queue.idle();
    await this.elector.stop();
    await Promise.all(this.#informers.map((i) => i.stop()));
    const s = this.#metricsServer;
    this.#metricsServer = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    s?.closeAllConnections?.();
  }

  #enqueue(namespace: string | undefined, name: string | undefined, delayMs = 0): void {
    if (!namespace || !name) return;
    this.queue.add(`${namespace}/${name}`, delayMs);
    this.metrics.queueDropped.set(this.queue.dropped);
  }

  #lead(): void {
    this.metrics.leader.set(1);
    this.queue.resume();
    // Everything the caches hold now; later arrivals come through the informers.
    for (const sa of this.#sas.list()) {
      if (!sa.metadata?.name) continue;
      this.#enqueue(sa.metadata.namespace, sa.metadata.name);
    }
  }

  #follow(): void {
    this.metrics.leader.set(0);
    this.queue.clear();
    this.#failures.clear();
    this.metrics.managed.set(0);
  }

  async #work(key: string): Promise<void> {
    if (!this.elector.isLeader) return;
    const [namespace, name] = key.split('/') as [string, string];
    try {
      const out = await reconcile(
        {
          core: this.#core,
          target: { registry: this.o.registry, service: this.o.service, provider: this.o.provider },
          annotation: this.o.annotation,
          namespaceLabel: this.o.namespaceLabel,
          tokenExpirationSeconds: this.o.tokenExpirationSeconds,
          events: this.#events,
          metrics: this.metrics,
          log: this.log,
          mayWrite: () => this.elector.isLeader,
        },
        namespace,
        name,
      );
      this.#failures.delete(key);
      if ('requeueAfterMs' in out && this.elector.isLeader)
        this.#enqueue(namespace, name, out.requeueAfterMs);
      this.metrics.managed.set(this.queue.size);
    } catch (err) {
      if (!this.elector.isLeader) return;
      const failures = (this.#failures.get(key) ?? 0) + 1;
      if (this.#failures.size < MAX_FAILURE_KEYS || this.#failures.has(key))
        this.#failures.set(key, failures);
      const retry = backoffMs(failures, FAIL_MIN_MS, FAIL_MAX_MS);
      const stepName =
        (err as { step?: string }).step ??
        (err instanceof KubeControllerError ? err.code.toLowerCase() : 'unknown');
      this.metrics.failures.inc({ step: stepName });
      const message = (err as Error).message;
      this.log('warn', 'reconcile failed', {
        namespace,
        serviceAccount: name,
        step: stepName,
        error: message,
        retryInMs: retry,
      });
      this.#enqueue(namespace, name, retry);
      const sa = this.#sas.list(namespace).find((s) => s.metadata?.name === name);
      if (sa) await this.#events.record(sa, 'Warning', 'PullSecretFailed', message);
    }
  }
}
