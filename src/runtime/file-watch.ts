import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Config } from '../config/load.js';
import { isInlinePem } from '../util/pem-value.js';

/** Quiet time after the last change before `onChange` runs: an editor's save is several events. */
export const WATCH_DEBOUNCE_MS = 300;

/**
 * Watches files for changes, debounced, and calls `onChange` once per burst. It watches the
 * directories holding them, not the files: editors save by renaming a new file over the old
 * one, and Kubernetes swaps a mounted ConfigMap by renaming its `..data` link, either of
 * which a watch on the file itself stops seeing.
 */
export class FileWatch {
  readonly #onChange: () => void;
  readonly #debounceMs: number;
  readonly #onError: (dir: string, err: Error) => void;
  #watchers = new Map<string, FSWatcher>();
  #names = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    onChange: () => void,
    options: { debounceMs?: number; onError?: (dir: string, err: Error) => void } = {},
  ) {
    this.#onChange = onChange;
    this.#debounceMs = options.debounceMs ?? WATCH_DEBOUNCE_MS;
    this.#onError = options.onError ?? (() => {});
  }

  /** Watches exactly these files (absolute paths) from now on. */
  set(files: Iterable<string>): void {
    if (this.#closed) return;
    const dirs = new Set<string>();
    this.#names = new Set();
    for (const f of files) {
      dirs.add(dirname(f));
      this.#names.add(basename(f));
    }
    for (const [dir, w] of this.#watchers) {
      if (dirs.has(dir)) continue;
      w.close();
      this.#watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || this.#names.has(name) || name.startsWith('..data')) this.#changed();
        });
        w.on('error', (e) => this.#onError(dir, e));
        this.#watchers.set(dir, w);
      } catch (e) {
        // A directory that cannot be watched still reloads on SIGHUP.
        this.#onError(dir, e as Error);
      }
    }
  }

  #changed(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#onChange();
    }, this.#debounceMs);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }
}

/** The files a configuration reads when it is loaded: a change to any of them is a reload. */
export function referencedFiles(config: Readonly<Config>): string[] {
  const out: (string | undefined)[] = [config.file, config.htpasswd, ...config.fileRefs];
  // The listeners' certificates: a renewal written over them is applied (serve reloads TLS).
  out.push(config.tls?.cert, config.tls?.key, config.proxy?.tls?.cert, config.proxy?.tls?.key);
  for (const k of config.token.keys) out.push(k.key, k.certificate);
  for (const p of config.providers) out.push(p.keys, p.ca);
  out.push(config.webhooks.authn?.ca, config.webhooks.authz?.ca);
  // Inline PEM is in the configuration itself: nothing to watch.
  return [...new Set(out.filter((f): f is string => f !== undefined && !isInlinePem(f)))];
}
