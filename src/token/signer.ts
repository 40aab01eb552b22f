import { randomBytes, sign } from 'node:crypto';
import type { Scope } from '../protocol/scope.js';
import type { SigningKey } from './keys.js';

export type KeyIdMode = 'libtrust' | 'thumbprint' | 'x5c';

export interface AccessEntry {
  type: string;
  class?: string;
  name: string;
  actions: string[];
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: AccessEntry[];
  /** The caller's provider, labels and claims (proxy-identity.ts), for the proxy's policies. */
  prv?: string;
  lbl?: Readonly<Record<string, string>>;
  clm?: Readonly<Record<string, unknown>>;
}

export interface IssuedToken {
  token: string;
  claims: TokenClaims;
  expiresIn: number;
  issuedAt: Date;
}

/** The `access` claim for granted scopes (the resource class kept when there is one). */
export function accessEntries(scopes: readonly Scope[]): AccessEntry[] {
  return scopes.map((s) =>
    s.class
      ? { type: s.type, class: s.class, name: s.name, actions: s.actions }
      : { type: s.type, name: s.name, actions: s.actions },
  );
}

// Token ids come from a pre-filled random pool: one randomBytes call per 256 tokens.
let pool = Buffer.alloc(0);
let poolAt = 0;
function randomId(): string {
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const id = pool.toString('base64url', poolAt, poolAt + 16);
  poolAt += 16;
  return id;
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** Signs registry tokens with one key; the header is computed once. */
export class TokenSigner {
  readonly key: SigningKey;
  readonly #headerB64: string;
  readonly #issuer: string;
  readonly #lifetime: number;

  /** token.expiresIn: the lifetime of a token no rule shortens or lengthens. */
  get defaultLifetime(): number {
    return this.#lifetime;
  }

  constructor(key: SigningKey, opts: { issuer: string; keyId: KeyIdMode; expiresIn: number }) {
    this.key = key;
    this.#issuer = opts.issuer;
    this.#lifetime = opts.expiresIn;
    const header: Record<string, unknown> = { alg: key.alg, typ: 'JWT' };
    if (opts.keyId === 'libtrust') header.kid = key.libtrustKid;
    else if (opts.keyId === 'thumbprint') header.kid = key.thumbprint;
    else {
      if (!key.x5c) throw new Error('keyId x5c needs a certificate');
      header.x5c = key.x5c;
    }
    this.#headerB64 = b64url(JSON.stringify(header));
  }

  /** Signs any claims set with this key (also used for refresh tokens). */
  signClaims(claims: object, header?: Record<string, unknown>): string {
    const h = header ? b64url(JSON.stringify({ alg: this.key.alg, typ: 'JWT', ...header })) : this.#headerB64;
    const input = `${h}.${b64url(JSON.stringify(claims))}`;
    // ES256 in JWS is raw r||s (IEEE P1363), not the DER Node produces by default.
    // `input` is base64url and '.', ASCII: latin1 gives the same bytes as UTF-8 without
    // scanning for multi-byte characters.
    const sig = sign('sha256', Buffer.from(input, 'latin1'), {
      key: this.key.privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${sig.toString('base64url')}`;
  }

  /** Signs an access token; `lifetime` (seconds) overrides token.expiresIn for this one. */
  issue(
    subject: string,
    audience: string,
    access: readonly Scope[],
    now = Date.now(),
    lifetime = this.#lifetime,
    extra?: Pick<TokenClaims, 'prv' | 'lbl' | 'clm'>,
  ): IssuedToken {
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = {
      iss: this.#issuer,
      sub: subject,
      aud: audience,
      exp: iat + lifetime,
      nbf: iat - 1,
      iat,
      jti: randomId(),
      access: accessEntries(access),
      ...extra,
    };
    return {
      token: this.signClaims(claims),
      claims,
      expiresIn: lifetime,
      issuedAt: new Date(iat * 1000),
    };
  }
}
