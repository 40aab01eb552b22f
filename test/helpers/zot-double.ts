import { X509Certificate } from 'node:crypto';
import { importX509, jwtVerify } from 'jose';

/**
 * A precise double of Zot's bearer authorizer (project-zot/zot pkg/api/bearer.go; Zot is not
 * packaged here): the token's signature is checked with the public key of the one
 * configured `cert` (golang-jwt's default validation: exp, nbf, iat; neither iss nor aud),
 * then an `access` entry must have the requested type, exactly the requested name ("" for
 * `/v2/_catalog`, whose challenge asks for `repository::pull`) and the requested action
 * literally in its `actions` (a `*` is not read as "all").
 */
export class ZotDouble {
  constructor(private readonly certPem: string) {}

  /** The challenge Zot answers a request for `action` on `name` without a good token. */
  static challenge(realm: string, service: string, name: string, action: string): string {
    return `Bearer realm="${realm}",service="${service}",scope="repository:${name}:${action}"`;
  }

  async authorize(token: string, name: string, action: 'pull' | 'push' | 'delete'): Promise<boolean> {
    const cert = new X509Certificate(this.certPem);
    const alg = cert.publicKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await importX509(this.certPem, alg)));
    } catch {
      return false;
    }
    const access = Array.isArray(payload.access) ? (payload.access as Record<string, unknown>[]) : [];
    return access.some(
      (e) =>
        e.type === 'repository' &&
        e.name === name &&
        Array.isArray(e.actions) &&
        (e.actions as unknown[]).includes(action),
    );
  }
}
