import type { JWK } from 'jose';
import { loadSigningKey, type SigningKey } from './keys.js';
import { type KeyIdMode, TokenSigner } from './signer.js';

/** The configured signing keys: the first signs, all are published and accepted. */
export class KeyRing {
  readonly keys: readonly SigningKey[];
  readonly signer: TokenSigner;
  readonly keyId: KeyIdMode;
  readonly #jwks: { keys: JWK[] };

  constructor(keys: readonly SigningKey[], opts: { issuer: string; keyId: KeyIdMode; expiresIn: number }) {
    if (keys.length === 0) throw new Error('at least one signing key is needed');
    this.keys = keys;
    this.keyId = opts.keyId;
    this.signer = new TokenSigner(keys[0]!, opts);
    this.#jwks = {
      keys: keys.map((k) => {
        const jwk: JWK = { ...k.jwk, kid: this.kidOf(k), use: 'sig', alg: k.alg };
        if (k.x5c) jwk.x5c = k.x5c;
        return jwk;
      }),
    };
  }

  static async load(
    files: readonly { key: string; certificate: string | undefined }[],
    opts: { issuer: string; keyId: KeyIdMode; expiresIn: number },
  ): Promise<KeyRing> {
    const keys = await Promise.all(files.map((f) => loadSigningKey(f.key, f.certificate)));
    return new KeyRing(keys, opts);
  }

  /** The kid this key is published under: libtrust or thumbprint, per `token.keyId` (x5c: thumbprint). */
  kidOf(k: SigningKey): string {
    return this.keyId === 'libtrust' ? k.libtrustKid : k.thumbprint;
  }

  byThumbprint(thumbprint: string): SigningKey | undefined {
    return this.keys.find((k) => k.thumbprint === thumbprint);
  }

  jwks(): { keys: JWK[] } {
    return this.#jwks;
  }
}
