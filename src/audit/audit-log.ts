import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Identity } from '../core/identity.js';
import { bounded } from '../util/log.js';

export type AuditOutcome = 'issued' | 'refused' | 'proxied' | 'denied';

/** One access decision, as docs/operations.md documents it. */
export interface AuditEvent {
  ip: string;
  /** "" for anonymous callers; the attempted username when authentication failed. */
  account: string;
  /** "" when no identity was established. */
  provider: string;
  identity?: Identity;
  requested: readonly string[];
  granted: readonly string[];
  /** Deciding rule index per requested scope, in order; null where no rule matched. */
  rule: readonly (number | null)[];
  jti?: string;
  outcome: AuditOutcome;
  status: number;
  /** Short refusal reason (the error message), never a credential. */
  reason?: string;
  method?: string;
  path?: string;
}

/**
 * Identity claims copied into events: the ones that say which workload it was. A bounded
 * allow-list, never the whole JWT (which may carry e-mail addresses or other personal data).
 */
export const AUDIT_CLAIMS = [
  'sub',
  'iss',
  'repository',
  'ref',
  'workflow',
  'job_workflow_ref',
  'run_id',
  'namespace_path',
  'project_path',
  'pipeline_id',
  'kubernetes.io',
] as const;

// Past this many bytes waiting for the sink, events are dropped (and counted), never queued
// without bound nor waited for.
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export interface AuditLogOptions {
  maxPendingBytes?: number;
  onDrop?: () => void;
}

/**
 * Writes one JSON line per decision to a stream, whatever the log level. Non-blocking: the
 * stream buffers, and when its buffer is over `maxPendingBytes` the event is dropped.
 */
export class AuditLog {
  readonly #out: Writable;
  readonly #max: number;
  readonly #onDrop: () => void;
  #dropped = 0;

  constructor(out: Writable, options: AuditLogOptions = {}) {
    this.#out = out;
    this.#max = options.maxPendingBytes ?? MAX_PENDING_BYTES;
    this.#onDrop = options.onDrop ?? (() => {});
    // A failing sink (disk full, closed pipe) must not crash the server: events are dropped.
    out.on('error', () => {});
  }

  /** Appends to `path` (created 0600: the log names accounts and addresses). */
  static toFile(path: string, options?: AuditLogOptions): AuditLog {
    return new AuditLog(createWriteStream(path, { flags: 'a', mode: 0o600 }), options);
  }

  static toStdout(options?: AuditLogOptions): AuditLog {
    return new AuditLog(process.stdout, options);
  }

  get dropped(): number {
    return this.#dropped;
  }

  record(e: AuditEvent, now = new Date()): void {
    if (this.#out.destroyed || this.#out.writableLength > this.#max) {
      this.#dropped++;
      this.#onDrop();
      return;
    }
    const line = {
      time: now.toISOString(),
      outcome: e.outcome,
      status: e.status,
      ip: e.ip,
      account: e.account,
      provider: e.provider,
      claims: e.identity ? chosenClaims(e.identity.claims) : {},
      requested: e.requested,
      granted: e.granted,
      rule: e.rule,
      jti: e.jti ?? null,
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.method ? { method: e.method } : {}),
      ...(e.path ? { path: e.path } : {}),
    };
    this.#out.write(`${JSON.stringify(bounded(line))}\n`);
  }

  close(): Promise<void> {
    if (this.#out === process.stdout || this.#out.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.#out.end(resolve));
  }
}

/** The sink `audit:` configures (none without it). */
export function openAuditLog(
  config: { file: string } | { stdout: true } | undefined,
  options?: AuditLogOptions,
): AuditLog | undefined {
  if (!config) return undefined;
  return 'file' in config ? AuditLog.toFile(config.file, options) : AuditLog.toStdout(options);
}

function chosenClaims(claims: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of AUDIT_CLAIMS) {
    const v = claims[k];
    // Scalars only: an object claim (kubernetes.io) is reduced to its namespace and service account.
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (k === 'kubernetes.io' && v && typeof v === 'object') {
      const o = v as { namespace?: unknown; serviceaccount?: { name?: unknown } };
      if (typeof o.namespace === 'string') out.namespace = o.namespace;
      if (typeof o.serviceaccount?.name === 'string') out.serviceaccount = o.serviceaccount.name;
    }
  }
  return out;
}
