import type { ConfigOverlay, ConfigOverlaySource } from './config-overlays.js';

/**
 * The latest complete list of a ConfigOverlaySource (kubernetes.configSecrets), for the
 * process that reloads: the single process, or the primary of `serve --workers N`, which
 * merges the overlays and hands every worker the result. A change that comes before anyone
 * listens (while the workers start, say) is kept and reported once a listener is set.
 */
export class OverlayFeed {
  readonly #source: ConfigOverlaySource;
  #list: readonly ConfigOverlay[] = [];
  #listener: (() => void) | undefined;
  #missed = false;
  #closed = false;

  private constructor(source: ConfigOverlaySource) {
    this.#source = source;
  }

  /** Starts `source`; resolves with the feed once its first complete list is in. */
  static async start(source: ConfigOverlaySource): Promise<OverlayFeed> {
    const feed = new OverlayFeed(source);
    let updated = false;
    const first = await source.start((list) => {
      updated = true;
      feed.#update(list);
    });
    // A list sent before start resolved is newer than the one it resolved with.
    if (!updated) feed.#list = first;
    return feed;
  }

  /** The overlays to merge over the file now, sorted by name. */
  get list(): readonly ConfigOverlay[] {
    return this.#list;
  }

  /** `listener` runs after every change from now on (and at once for one already missed). */
  onChange(listener: () => void): void {
    this.#listener = listener;
    if (this.#missed) {
      this.#missed = false;
      listener();
    }
  }

  /** Stops the source; no listener runs afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener = undefined;
    await this.#source.close();
  }

  #update(list: readonly ConfigOverlay[]): void {
    if (this.#closed) return;
    this.#list = list;
    if (this.#listener) this.#listener();
    else this.#missed = true;
  }
}
