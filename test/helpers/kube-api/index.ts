/**
 * A Kubernetes API server double for tests that drive the real `@kubernetes/client-node` (or any
 * HTTP client) against the real REST paths, on 127.0.0.1.
 *
 *   const api = await KubeApi.start({ tls?: boolean, token?: string, mint?: TokenMinter });
 *   const kc = new KubeConfig(); kc.loadFromFile(api.writeKubeconfig(dir));   // or
 *   kc.loadFromOptions(api.kubeconfigOptions({ namespace: 'default' }));
 *   api.addUser('replica-a') → a second bearer token; writeKubeconfig(dir, { user: 'replica-a' })
 *   points a client at the double as that user (faults and api.requests tell users apart).
 *   …
 *   await api.close();
 *
 * Served (resources.ts; add a line there for another resource — nothing else changes):
 *   core/v1 namespaces (cluster-scoped), serviceaccounts, secrets, configmaps, pods, events;
 *   events.k8s.io/v1 events; coordination.k8s.io/v1 leases.
 *   Paths: /api/v1/[namespaces/NS/]PLURAL[/NAME] and /apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME];
 *   a namespaced PLURAL without NS lists/watches across namespaces.
 *   Verbs: list/get (labelSelector, fieldSelector), watch (?watch=true with resourceVersion,
 *   timeoutSeconds; ADDED/MODIFIED/DELETED, BOOKMARK via api.bookmark(), ERROR), create (POST;
 *   generateName, 409 AlreadyExists), replace (PUT; 409 Conflict on a stale resourceVersion),
 *   patch (PATCH with application/json-patch+json, merge-patch+json, strategic-merge-patch+json),
 *   delete (owner-reference garbage collection of dependents). Every refusal is a Status object.
 *   Requests need `Authorization: Bearer <a user's token>` (401 otherwise; api.token is admin's). Namespaces are not
 *   required to exist.
 *   POST /api/v1/namespaces/NS/serviceaccounts/NAME/token: TokenRequest (404 unknown SA, 422
 *   below 600 s, bound Secret/Pod must exist with the uid given); every request is recorded in
 *   api.tokenRequests; api.maxTokenSeconds shortens the granted expirationTimestamp; api.mint
 *   makes the token (an opaque string by default).
 *
 * Store (api.store, store.ts): ObjectStore keyed by resource key — `secrets`, `serviceaccounts`,
 *   `namespaces`, `configmaps`, `pods`, `events`, `events.events.k8s.io`,
 *   `leases.coordination.k8s.io` — with create/get/list/replace/patch/delete (the same checks
 *   as over HTTP, and the same watch events) and compact(key?) (watches from older revisions
 *   then get 410). api.create/api.get are shorthands.
 *
 * Faults and watch control:
 *   api.failNextWatch(key, {code?=500, message?, times?})  next watch answers an HTTP error status
 *   api.goneNextWatch(key, {times?})     next watch: 200, then an ERROR event with a 410 Status
 *   api.expireWatches(key?)              open watches get ERROR 410 and are closed
 *   api.dropWatches(key?)                open watch connections are destroyed mid-stream
 *   api.endWatches(key?)                 open watches end cleanly (the server's watch timeout)
 *   api.faults.add(match, code, reason, message, {times?, asWatchEvent?})  any call: match on
 *     user, method, resource, subresource ('token'), watch, namespace, name
 *   api.openWatches(key?), api.watchesOpened(key), api.lists(key), api.requests (bounded log)
 */
export { type Fault, type FaultMatch, Faults } from './faults.js';
export { kubeconfigDocument, kubeconfigOptions, writeKubeconfig } from './kubeconfig.js';
export { apiVersionOf, RESOURCES, type ResourceDef, resourceKey } from './resources.js';
export { KubeApi, type KubeApiOptions, type RecordedRequest } from './server.js';
export { ObjectStore, type StoredEvent } from './store.js';
export {
  defaultMinter,
  type MintInput,
  type RecordedTokenRequest,
  type TokenMinter,
} from './token-request.js';
export {
  ApiError,
  type KubeObject,
  type ObjectMeta,
  type OwnerReference,
  type Status,
  type WatchEvent,
} from './types.js';
