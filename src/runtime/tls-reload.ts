import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { ConfigError } from '../core/errors.js';
import { loadTlsPair, type TlsFiles, useTlsPair } from '../http/tls-context.js';
import type { Logger } from '../util/log.js';

/**
 * Keeps an HTTPS listener's certificate current: `reload(files)` reads the pair again and
 * hands it to new handshakes (connections open keep theirs, no restart). An invalid pair
 * (half-written, mismatched, unreadable) is logged with the file at fault and the pair in
 * use keeps serving; the next change or SIGHUP tries again.
 */
export class TlsReloader {
  readonly #name: string;
  readonly #server: TlsServer;
  readonly #log: Logger;
  #fingerprint: string | undefined;

  constructor(name: string, server: Server, log: Logger, fingerprint?: string) {
    this.#name = name;
    // listenOn made it with node:https, a tls.Server, whenever `tls:` is set.
    this.#server = server as unknown as TlsServer;
    this.#log = log;
    this.#fingerprint = fingerprint;
  }

  get fingerprint(): string | undefined {
    return this.#fingerprint;
  }

  /** Returns false when the pair was refused (and logged). */
  reload(files: TlsFiles, trigger: string): boolean {
    try {
      const pair = loadTlsPair(files);
      useTlsPair(this.#server, pair);
      if (pair.fingerprint !== this.#fingerprint)
        this.#log.info('tls certificate loaded', {
          server: this.#name,
          trigger,
          fingerprint: pair.fingerprint,
          validTo: pair.validTo,
        });
      this.#fingerprint = pair.fingerprint;
      return true;
    } catch (e) {
      this.#log.error('tls reload failed; keeping the previous certificate', {
        server: this.#name,
        trigger,
        ...(e instanceof ConfigError ? { file: e.file } : {}),
        error: (e as Error).message,
      });
      return false;
    }
  }
}
