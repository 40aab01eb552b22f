// Config from Secrets (`kubernetes.configSecrets` in Purser's file): watches the Secrets of one
// namespace that match a label selector and hands Purser the `config` key of each, sorted by
// name, as one complete list after every change. Purser merges them over its file and reloads.
//
// Every (re)start is a fresh client-node informer, and the list handed on is always one
// informer's whole cache after its list was applied: a restart never hands on a partial list
// (some Secrets not yet re-listed), and a Secret deleted while the watch was down is gone from
// the next list even though no DELETED event was seen. Non-410 errors stop a client-node
// informer, so this restarts it with backoff; a 410 relists inside the informer itself; a
// periodic replacement guards against watches that stall silently (client-node #958, #364).
import { existsSync } from 'node:fs';
import { CoreV1Api, KubeConfig, makeInformer, type V1Secret } from '@kubernetes/client-node';
import { describeApiError } from './errors.js';
import { backoffMs } from './schedule.js';

/** The key of a Secret's data that holds the YAML. */
export const CONFIG_KEY = 'config';

/** What Purser's runtime receives (src/runtime/config-overlays.ts, ConfigOverlay). */
export interface SecretOverlay {
  readonly kind: 'secret';
  /** NAMESPACE/NAME */
  readonly name: string;
  /** The `config` key, decoded; undefined when the Secret has none. */
  readonly yaml: string | undefined;
}

export interface ConfigSecretsOptions {
  namespace: string;
  labelSelector: string;
  /** A list or watch failed; it is retried after `retryInMs`. The message never holds Secret data. */
  onWatchError?: (error: string, retryInMs: number) => void;
  /** Default: KUBECONFIG when set, else the in-cluster service account. */
  kubeConfig?: KubeConfig;
  /** How long start() keeps retrying the first list before it gives up. Default 30 s. */
  startTimeoutMs?: number;
  /** Replace the informer (a full relist) this often. Default 10 min. */
  relistIntervalMs?: number;
  /** Quiet time before a change is handed on: a burst of events is one reload. Default 200 ms. */
  debounceMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

type Informer = ReturnType<typeof makeInformer<V1Secret>>;

/** KUBECONFIG when set (kubectl's rules, several files allowed), else in-cluster credentials. */
export function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  if (process.env.KUBECONFIG) kc.loadFromDefault();
  else if (
    process.env.KUBERNETES_SERVICE_HOST &&
    existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')
  )
    kc.loadFromCluster();
  else
    throw new Error(
      'kubernetes.configSecrets: neither KUBECONFIG is set nor is this a pod with a service account token',
    );
  if (!kc.getCurrentCluster())
    throw new Error('kubernetes.configSecrets: the kubeconfig has no current cluster');
  return kc;
}

/** The overlay of one Secret: its `config` key (base64 in `data`), never logged. */
export function overlayOf(s: V1Secret): SecretOverlay {
  const b64 = s.data?.[CONFIG_KEY];
  return {
    kind: 'secret',
    name: `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`,
    yaml: b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8'),
  };
}

export class ConfigSecretsSource {
  readonly #o: Required<Omit<ConfigSecretsOptions, 'onWatchError' | 'kubeConfig'>> &
    Pick<ConfigSecretsOptions, 'onWatchError'>;
  readonly #kc: KubeConfig;
  readonly #core: CoreV1Api;
  /** The informer being started or running; events of any other are ignored. */
  #current: Informer | undefined;
  #generation = 0;
  /** The informer whose list has been applied: the one lists are read from. */
  #synced: Informer | undefined;
  #old: Informer | undefined;
  #failures = 0;
  #lastFailure = 0;
  #last = '';
  #onChange: ((overlays: readonly SecretOverlay[]) => void) | undefined;
  #firstSync: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #relistTimer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: ConfigSecretsOptions) {
    this.#o = {
      namespace: o.namespace,
      labelSelector: o.labelSelector,
      onWatchError: o.onWatchError,
      startTimeoutMs: o.startTimeoutMs ?? 30_000,
      relistIntervalMs: o.relistIntervalMs ?? 600_000,
      debounceMs: o.debounceMs ?? 200,
      backoffMinMs: o.backoffMinMs ?? 500,
      backoffMaxMs: o.backoffMaxMs ?? 30_000,
    };
    this.#kc = o.kubeConfig ?? defaultKubeConfig();
    this.#core = this.#kc.makeApiClient(CoreV1Api);
  }

  /** Resolves with the first complete list; rejects when none arrives within startTimeoutMs. */
  async start(onChange: (overlays: readonly SecretOverlay[]) => void): Promise<readonly SecretOverlay[]> {
    const synced = new Promise<void>((resolve, reject) => {
      this.#firstSync = { resolve, reject };
    });
    const timer = setTimeout(
      () =>
        this.#firstSync?.reject(
          new Error(
            `kubernetes.configSecrets: no list of the Secrets in ${this.#o.namespace} within ${this.#o.startTimeoutMs} ms`,
          ),
        ),
      this.#o.startTimeoutMs,
    );
    this.#spawn();
    try {
      await synced;
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      clearTimeout(timer);
      this.#firstSync = undefined;
    }
    const first = this.#snapshot();
    this.#last = JSON.stringify(first);
    this.#onChange = onChange;
    this.#relistTimer = setInterval(() => this.#restart(), this.#o.relistIntervalMs);
    this.#relistTimer.unref();
    return first;
  }

  #spawn(): void {
    const gen = ++this.#generation;
    const live = () => gen === this.#generation && !this.#stopped;
    const { namespace, labelSelector } = this.#o;
    let inf: Informer | undefined;
    const list = async () => {
      const r = await this.#core.listNamespacedSecret({ namespace, labelSelector });
      // The informer applies the list synchronously once this resolves: after a macrotask its
      // cache is that list, whole.
      setTimeout(() => {
        if (live() && inf) this.#listed(inf);
      }, 0);
      return r;
    };
    inf = makeInformer<V1Secret>(this.#kc, `/api/v1/namespaces/${namespace}/secrets`, list, labelSelector);
    const i = inf;
    for (const ev of ['add', 'update', 'delete'] as const)
      i.on(ev, () => {
        if (live() && this.#synced === i) this.#changed();
      });
    i.on('error', (err: unknown) => {
      if (live()) this.#failed(err);
    });
    this.#current = i;
    i.start().catch((err: unknown) => {
      if (live()) this.#failed(err);
    });
  }

  #listed(inf: Informer): void {
    this.#failures = 0;
    const old = this.#synced;
    this.#synced = inf;
    if (old && old !== inf) void old.stop().catch(() => {});
    if (this.#old && this.#old !== inf) void this.#old.stop().catch(() => {});
    this.#old = undefined;
    if (this.#firstSync) this.#firstSync.resolve();
    else this.#changed();
  }

  #failed(err: unknown): void {
    const now = Date.now();
    // A minute without failing resets the backoff.
    if (now - this.#lastFailure > 60_000) this.#failures = 0;
    this.#failures++;
    this.#lastFailure = now;
    const delay = backoffMs(this.#failures, this.#o.backoffMinMs, this.#o.backoffMaxMs);
    this.#o.onWatchError?.(describeApiError(`watch secrets in ${this.#o.namespace}`, err), delay);
    // The failed informer stopped itself; its cache stays the list to read until a new one lists.
    this.#generation++;
    if (this.#current !== this.#synced) void this.#current?.stop().catch(() => {});
    this.#current = undefined;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (!this.#stopped) this.#spawn();
    }, delay);
    this.#restartTimer.unref();
  }

  /** A fresh informer beside the running one, which serves until the new one has listed. */
  #restart(): void {
    if (this.#stopped || !this.#current || this.#current !== this.#synced) return; // a retry is pending
    this.#old = this.#current;
    this.#spawn();
  }

  #changed(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      if (this.#stopped || !this.#onChange) return;
      const list = this.#snapshot();
      const key = JSON.stringify(list);
      // A relist or a metadata-only edit that leaves every `config` as it was is no reload.
      if (key === this.#last) return;
      this.#last = key;
      this.#onChange(list);
    }, this.#o.debounceMs);
  }

  #snapshot(): SecretOverlay[] {
    const items = this.#synced?.list(this.#o.namespace) ?? [];
    return items.map(overlayOf).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async close(): Promise<void> {
    this.#stopped = true;
    this.#generation++;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#debounce);
    clearInterval(this.#relistTimer);
    const all = new Set([this.#current, this.#synced, this.#old]);
    this.#current = this.#synced = this.#old = undefined;
    await Promise.all([...all].map((i) => i?.stop().catch(() => {})));
  }
}

/** The entry point Purser's `serve` loads (src/runtime/config-overlays.ts, loadConfigSecretsSource). */
export function configSecretsSource(o: ConfigSecretsOptions): ConfigSecretsSource {
  return new ConfigSecretsSource(o);
}
