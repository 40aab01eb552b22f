// The serviceaccounts/{name}/token subresource (authentication.k8s.io/v1 TokenRequest), with the
// API server's checks (k/k pkg/registry/core/serviceaccount/storage/token.go): the SA exists,
// expirationSeconds ≥ 600 (default 3600), a bound object exists with the uid given. The token
// itself comes from a pluggable minter (an opaque string by default; a signed Kubernetes-shaped
// JWT in end-to-end tests), and the double can be told to shorten the lifetime it grants.
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from './store.js';
import { apiError, type KubeObject } from './types.js';

export interface TokenRequestSpec {
  audiences?: string[];
  expirationSeconds?: number;
  boundObjectRef?: { kind?: string; apiVersion?: string; name?: string; uid?: string };
}

export interface RecordedTokenRequest {
  namespace: string;
  serviceAccount: string;
  spec: TokenRequestSpec;
  /** The lifetime granted, in seconds (after any cap). */
  grantedSeconds: number;
  expirationTimestamp: string;
  at: Date;
}

export interface MintInput {
  namespace: string;
  serviceAccount: KubeObject;
  audiences: string[];
  /** The bound object, as stored, if the request named one. */
  bound: KubeObject | undefined;
  boundKind: string | undefined;
  issuedAt: number;
  expiresAt: number;
}

export type TokenMinter = (input: MintInput) => string | Promise<string>;

export const defaultMinter: TokenMinter = () => `kube-double.${randomBytes(24).toString('base64url')}`;

const BOUND_KINDS: Record<string, string> = { Secret: 'secrets', Pod: 'pods' };

export async function serveTokenRequest(
  store: ObjectStore,
  ns: string,
  name: string,
  body: unknown,
  opts: { maxSeconds: number | undefined; mint: TokenMinter; record: (r: RecordedTokenRequest) => void },
): Promise<KubeObject> {
  const sa = store.get('serviceaccounts', ns, name);
  if (!sa)
    throw apiError(404, 'NotFound', `serviceaccounts "${name}" not found`, { name, kind: 'serviceaccounts' });
  const req = body as { kind?: string; spec?: TokenRequestSpec } | null;
  if (!req || typeof req !== 'object' || (req.kind !== undefined && req.kind !== 'TokenRequest'))
    throw apiError(400, 'BadRequest', 'the body is not a TokenRequest');
  const spec = req.spec ?? {};
  const requested = spec.expirationSeconds ?? 3600;
  if (!Number.isInteger(requested) || requested < 600)
    throw apiError(
      422,
      'Invalid',
      'TokenRequest.authentication.k8s.io is invalid: spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes',
    );
  if (requested > 2 ** 32)
    throw apiError(
      422,
      'Invalid',
      'TokenRequest.authentication.k8s.io is invalid: spec.expirationSeconds: Invalid value: may not specify a duration larger than 2^32 seconds',
    );
  let bound: KubeObject | undefined;
  const ref = spec.boundObjectRef;
  if (ref) {
    const resource = BOUND_KINDS[ref.kind ?? ''];
    if (!resource) throw apiError(400, 'BadRequest', `cannot bind token for object of type ${ref.kind}`);
    bound = store.get(resource, ns, ref.name ?? '');
    if (!bound) throw apiError(404, 'NotFound', `${resource} "${ref.name}" not found`);
    if (ref.uid && ref.uid !== bound.metadata.uid)
      throw apiError(
        409,
        'Conflict',
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
  }
  const granted = opts.maxSeconds === undefined ? requested : Math.min(requested, opts.maxSeconds);
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + granted;
  const audiences = spec.audiences?.length ? spec.audiences : ['https://kubernetes.default.svc'];
  const token = await opts.mint({
    namespace: ns,
    serviceAccount: sa,
    audiences,
    bound,
    boundKind: ref?.kind,
    issuedAt,
    expiresAt,
  });
  const expirationTimestamp = `${new Date(expiresAt * 1000).toISOString().slice(0, 19)}Z`;
  opts.record({
    namespace: ns,
    serviceAccount: name,
    spec: structuredClone(spec),
    grantedSeconds: granted,
    expirationTimestamp,
    at: new Date(),
  });
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name, namespace: ns, creationTimestamp: null as unknown as string },
    spec: { ...spec, audiences, expirationSeconds: granted },
    status: { token, expirationTimestamp },
  };
}
