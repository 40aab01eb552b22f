import { createHash, hash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { ProviderConfig } from '../../config/load.js';
import { ConfigError, PurserError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import { CelCompileError, CelEvalError, type CelProgram, celClaims, compileCel } from '../../expr/cel.js';
import { MemoryReplayStore, type ReplayStore } from '../../state/replay.js';
import { ExpiringCache } from '../../util/expiring-cache.js';
import type { Logger } from '../../util/log.js';
import { type MaybePromise, settle } from '../../util/maybe-promise.js';
import { pemValueLabel, readPemValue } from '../../util/pem-value.js';
import { discoveredJwksUrlProblem } from '../../util/url-policy.js';
import { issuerDispatcher } from './fetch-json.js';
import { type KeySet, localKeySet, RemoteKeySet } from './key-set.js';
import { verifyWorkloadJwt } from './verify.js';

/** What a JWT is known by in a provider's cache of verified tokens (and its throttle key). */
export function tokenDigest(token: string): string {
  // One-shot: a Hash object costs a third more on a CI JWT's kilobyte or two.
  return hash('sha256', token, 'base64');
}

/** One configured OIDC issuer: policy, keys and the CEL that turns claims into an identity. */
export class OidcProvider {
  readonly config: ProviderConfig;
  readonly keys: KeySet;
  readonly #account: CelProgram<string>;
  readonly #when: CelProgram<boolean> | undefined;
  readonly #labels: [string, CelProgram<string>][];
  readonly #log: Logger;
  readonly #replay: ReplayStore | undefined;
  /** Identities of the payloads #verified holds (#identityOf); gone with their payload. */
  readonly #identities = new WeakMap<JWTPayload, Identity>();
  // Claims are counted by their JSON size: a JWT may carry up to 16 KiB of them.
  readonly #verified = new ExpiringCache<JWTPayload>(10_000, {
    maxBytes: 16 * 1024 * 1024,
    sizeOf: (k, v) => 2 * (k.length + JSON.stringify(v).length),
  });

  private constructor(
    config: ProviderConfig,
    keys: KeySet,
    programs: {
      account: CelProgram<string>;
      when: CelProgram<boolean> | undefined;
      labels: [string, CelProgram<string>][];
    },
    log: Logger,
    replay: ReplayStore | undefined,
  ) {
    this.config = config;
    this.#replay = replay;
    this.keys = keys;
    this.#account = programs.account;
    this.#when = programs.when;
    this.#labels = programs.labels;
    this.#log = log;
  }

  get name(): string {
    return this.config.name;
  }

  static async create(
    config: ProviderConfig,
    where: string,
    file: string | undefined,
    log: Logger,
    onFetch?: (provider: string, kind: 'discovery' | 'jwks', outcome: 'ok' | 'error') => void,
    /** Records the tokens seen, for `replay: once`; default one in this process. */
    replay?: ReplayStore,
  ): Promise<OidcProvider> {
    const compile = <K extends 'bool' | 'string'>(src: string, key: string, kind: K) => {
      try {
        return compileCel(src, ['claims'], kind as 'bool') as unknown as CelProgram<
          K extends 'bool' ? boolean : string
        >;
      } catch (e) {
        if (e instanceof CelCompileError) throw new ConfigError(file, `${where}.${key}`, e.message);
        throw e;
      }
    };
    const programs = {
      account: compile(config.account, 'account', 'string') as CelProgram<string>,
      when: config.when ? (compile(config.when, 'when', 'bool') as CelProgram<boolean>) : undefined,
      labels: Object.entries(config.labels).map(
        ([k, v]) =>
          [k, compile(v, `labels.${k}`, 'string') as CelProgram<string>] as [string, CelProgram<string>],
      ),
    };
    let keys: KeySet;
    if (config.keys) {
      try {
        keys = await localKeySet(config.keys);
      } catch (e) {
        throw new ConfigError(file, `${where}.keys`, (e as Error).message);
      }
    } else {
      let ca: string | undefined;
      if (config.ca) {
        try {
          ca = readPemValue(config.ca);
        } catch (e) {
          throw new ConfigError(
            file,
            `${where}.ca`,
            `cannot read ${pemValueLabel(config.ca)}: ${(e as NodeJS.ErrnoException).code}`,
          );
        }
      }
      keys = new RemoteKeySet({
        provider: config.name,
        issuer: config.issuer,
        jwksUri: config.jwksUri,
        maxAgeMs: config.keyCache.maxAge * 1000,
        cooldownMs: config.keyCache.cooldown * 1000,
        timeoutMs: config.keyCache.timeout * 1000,
        staleForMs: config.keyCache.staleFor * 1000,
        dispatcher: issuerDispatcher(ca),
        logger: log,
        checkUrl: (u) => discoveredJwksUrlProblem(u, config.issuer),
        ...(onFetch
          ? {
              onFetch: (kind: 'discovery' | 'jwks', outcome: 'ok' | 'error') =>
                onFetch(config.name, kind, outcome),
            }
          : {}),
      });
    }
    const seen = config.replay === 'once' ? (replay ?? new MemoryReplayStore()) : undefined;
    return new OidcProvider(config, keys, programs, log, seen);
  }

  /**
   * Whether this JWT (by its tokenDigest) passed verification here and its time claims still
   * hold: a cache lookup, nothing verified.
   */
  verifiedEarlier(digest: string): boolean {
    const hit = this.#verified.get(digest);
    return hit !== undefined && this.#stillValid(hit);
  }

  /**
   * Verifies a JWT and maps its claims to an identity. Throws PurserError (401/503).
   * `digest`: its tokenDigest, when the caller has it already.
   */
  identify(token: string, trace?: string[], digest?: string): Promise<Identity> {
    return settle(() => this.identifyNow(token, trace, digest));
  }

  /**
   * identify(), answering at once for a JWT verified earlier (without `replay: once`); a
   * refusal is then thrown rather than rejected.
   */
  identifyNow(token: string, trace?: string[], digest = tokenDigest(token)): MaybePromise<Identity> {
    // A client asks for a token per layer with the same JWT: its signature is checked once,
    // its time claims every time.
    const hit = this.#verified.get(digest);
    if (hit && this.#stillValid(hit)) {
      trace?.push('signature: verified earlier (cached until the token expires)');
      return this.#once(hit, this.#identityOf(hit, trace), trace);
    }
    return this.#verify(token, digest, trace);
  }

  async #verify(token: string, cacheKey: string, trace?: string[]): Promise<Identity> {
    const payload = await verifyWorkloadJwt(
      token,
      this.keys,
      {
        issuer: this.config.issuer,
        audiences: this.config.audiences,
        algorithms: this.config.algorithms,
        clockSkew: this.config.clockSkew,
        maxTokenAge: this.config.maxTokenAge,
      },
      trace,
    );
    this.#verified.set(cacheKey, payload, ((payload.exp ?? 0) + this.config.clockSkew) * 1000);
    return this.#once(payload, this.#identityOf(payload, trace), trace);
  }

  /**
   * The identity of a verified payload, worked out once per cached payload: `when`, `account`
   * and labels depend on the claims alone, and a CI job presents the same JWT for every
   * layer. The identity and the payload are frozen, since every request with the token
   * shares them. A refusal is not remembered; a trace (purser check) computes it afresh.
   */
  #identityOf(payload: JWTPayload, trace?: string[]): Identity {
    if (trace) return this.identityFromClaims(payload as Record<string, unknown>, trace);
    let identity = this.#identities.get(payload);
    if (identity === undefined) {
      identity = this.identityFromClaims(Object.freeze(payload) as Record<string, unknown>);
      Object.freeze(identity.labels);
      this.#identities.set(payload, Object.freeze(identity));
    }
    return identity;
  }

  /**
   * With `replay: once`, a token is accepted the first time only: its `jti` is recorded (per
   * provider) until it expires. Only tokens that passed every check are recorded, so a
   * refused one cannot use up a jti.
   */
  #once(payload: JWTPayload, identity: Identity, trace?: string[]): MaybePromise<Identity> {
    if (this.config.replay !== 'once' || !this.#replay) return identity;
    return this.#firstUse(this.#replay, payload, identity, trace);
  }

  async #firstUse(
    replay: ReplayStore,
    payload: JWTPayload,
    identity: Identity,
    trace?: string[],
  ): Promise<Identity> {
    if (typeof payload.jti !== 'string' || payload.jti === '')
      throw new PurserError('UNAUTHORIZED', `provider ${this.name} accepts a token once and needs its jti`);
    const key = createHash('sha256').update(this.name).update('\0').update(payload.jti).digest('base64url');
    const until = (payload.exp ?? 0) + this.config.clockSkew;
    if (!(await replay.firstUse(`replay:${key}`, until)))
      throw new PurserError(
        'UNAUTHORIZED',
        `token already used (provider ${this.name} accepts each token once)`,
      );
    trace?.push('replay: first use of this jti');
    return identity;
  }

  /** The time checks of the verification policy, for a payload verified before. */
  #stillValid(p: JWTPayload): boolean {
    const now = Math.floor(Date.now() / 1000);
    const skew = this.config.clockSkew;
    if (typeof p.exp !== 'number' || now - skew >= p.exp) return false;
    if (typeof p.nbf === 'number' && now + skew < p.nbf) return false;
    if (
      this.config.maxTokenAge !== undefined &&
      (typeof p.iat !== 'number' || now - skew > p.iat + this.config.maxTokenAge)
    ) {
      return false;
    }
    return true;
  }

  /** Applies `when`, `account` and `labels` to verified claims (also for refresh tokens). */
  identityFromClaims(claims: Record<string, unknown>, trace?: string[]): Identity {
    const ctx = { claims: celClaims(claims) };
    if (this.#when) {
      let ok = false;
      try {
        ok = this.#when.run(ctx);
      } catch (e) {
        if (!(e instanceof CelEvalError)) throw e;
        this.#log.debug('provider when condition failed to evaluate', {
          provider: this.name,
          reason: e.message,
        });
      }
      trace?.push(`when: ${this.#when.source} → ${ok}`);
      if (!ok) throw new PurserError('UNAUTHORIZED', `token refused by provider ${this.name}'s condition`);
    }
    let account: string;
    try {
      account = this.#account.run(ctx);
    } catch (e) {
      if (!(e instanceof CelEvalError)) throw e;
      throw new PurserError(
        'UNAUTHORIZED',
        `provider ${this.name}: the token has no account (${this.#account.source}: ${e.message})`,
      );
    }
    if (account === '')
      throw new PurserError(
        'UNAUTHORIZED',
        `provider ${this.name}: empty account from ${this.#account.source}`,
      );
    trace?.push(`account: ${this.#account.source} → ${JSON.stringify(account)}`);
    const labels: Record<string, string> = {};
    for (const [k, prog] of this.#labels) {
      try {
        labels[k] = prog.run(ctx);
      } catch {
        // A label whose claim is absent is simply not set.
      }
    }
    if (this.#labels.length) trace?.push(`labels: ${JSON.stringify(labels)}`);
    return { account, provider: this.name, labels, claims };
  }

  /** Releases the key fetcher's connections. */
  async close(): Promise<void> {
    await this.keys.close?.();
  }
}
