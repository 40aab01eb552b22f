// The kubelet's CredentialProviderRequest (credentialprovider.kubelet.k8s.io/v1, k/k
// staging/src/k8s.io/kubelet/pkg/apis/credentialprovider/v1/types.go), read strictly: exact
// apiVersion and kind, every known field of its type. Unknown fields are ignored, as the
// kubelet's own decoding of v1 tolerates additive fields (serviceAccountToken came that way).

import { isRecord } from '../env.js';
import { HelperError } from '../errors.js';

export const API_VERSION = 'credentialprovider.kubelet.k8s.io/v1';

export interface CredentialProviderRequest {
  image: string;
  serviceAccountToken?: string;
  serviceAccountAnnotations?: Record<string, string>;
}

const bad = (why: string) => new HelperError('INPUT_INVALID', `malformed CredentialProviderRequest: ${why}`);

/** The request in `text`, or a HelperError INPUT_INVALID that never quotes a token. */
export function parseRequest(text: string): CredentialProviderRequest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!isRecord(v)) throw bad('not a JSON object');
  if (v.apiVersion !== API_VERSION) throw bad(`apiVersion must be ${API_VERSION}`);
  if (v.kind !== 'CredentialProviderRequest') throw bad('kind must be CredentialProviderRequest');
  const { image, serviceAccountToken, serviceAccountAnnotations } = v;
  if (typeof image !== 'string' || image === '') throw bad('image must be a non-empty string');
  const req: CredentialProviderRequest = { image };
  // omitempty on the kubelet's side: absent and "" both mean no token.
  if (serviceAccountToken !== undefined && serviceAccountToken !== null) {
    if (typeof serviceAccountToken !== 'string') throw bad('serviceAccountToken must be a string');
    if (serviceAccountToken !== '') req.serviceAccountToken = serviceAccountToken;
  }
  if (serviceAccountAnnotations !== undefined && serviceAccountAnnotations !== null) {
    if (
      !isRecord(serviceAccountAnnotations) ||
      !Object.values(serviceAccountAnnotations).every((a) => typeof a === 'string')
    ) {
      throw bad('serviceAccountAnnotations must map strings to strings');
    }
    req.serviceAccountAnnotations = serviceAccountAnnotations as Record<string, string>;
  }
  return req;
}
