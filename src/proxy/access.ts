import { isRepositoryName, type Scope } from '../protocol/scope.js';
import { type QueryPairs, queryValues, readsFormBody } from './go-query.js';
import { manifestReference } from './manifest-ref.js';

/** What a registry API request needs, worked out from its method and path alone. */
export type RouteAccess =
  | { kind: 'base' }
  | {
      kind: 'scoped';
      scopes: Scope[];
      repository: string | undefined;
      mountFrom?: string;
      /** A manifest PUT or DELETE by tag (manifest-ref.ts): the tag, for proxy.tags. */
      tag?: string;
    }
  | { kind: 'invalid'; status: number; code: string; message: string };

// distribution 2.8's route grammar (registry/api/v2/descriptors.go, go-digest, reference):
// the name is checked with isRepositoryName, the last component with these.
const DIGEST = '[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+';
const TAG = '[\\w][\\w.-]{0,127}';
const UUID = '[a-zA-Z0-9\\-_.=]+';

type Route = 'tags' | 'manifest' | 'upload' | 'blob' | 'referrers';
/** Each route's shape, and what its last component must look like for the registry to route it. */
const ROUTES: { re: RegExp; route: Route; last?: RegExp }[] = [
  { re: /^\/v2\/(.+)\/tags\/list$/, route: 'tags' },
  { re: /^\/v2\/(.+)\/manifests\/([^/]+)$/, route: 'manifest', last: new RegExp(`^(?:${TAG}|${DIGEST})$`) },
  { re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/, route: 'upload', last: new RegExp(`^(?:${UUID})?$`) },
  { re: /^\/v2\/(.+)\/blobs\/([^/]+)$/, route: 'blob', last: new RegExp(`^${DIGEST}$`) },
  // Not a 2.8 route (the OCI 1.1 referrers API): forwarded for registries that have it.
  { re: /^\/v2\/(.+)\/referrers\/([^/]+)$/, route: 'referrers', last: new RegExp(`^${DIGEST}$`) },
];

const invalid = (status: number, code: string, message: string): RouteAccess => ({
  kind: 'invalid',
  status,
  code,
  message,
});

function actionsFor(method: string): string[] | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return ['pull'];
    case 'POST':
    case 'PUT':
    case 'PATCH':
      return ['pull', 'push'];
    case 'DELETE':
      return ['delete'];
    default:
      return undefined;
  }
}

/**
 * Maps a request to the access it needs (SPEC §5): GET/HEAD pull; POST/PUT/PATCH pull+push;
 * DELETE delete (cancelling an upload too, as distribution 2.8 checks it); a cross-repository
 * mount also needs pull on the source; the catalog needs registry:catalog:*.
 *
 * `path` is the decoded path and `query` the query as Go parses it (canonical.ts): the
 * registry routes and reads exactly these. What the registry would not route is refused
 * here, so whatever passes is acted on by the registry on the repository checked.
 */
export function requiredAccess(
  method: string,
  path: string,
  query: QueryPairs,
  contentType?: string,
): RouteAccess {
  if (path === '/v2/' || path === '/v2') return { kind: 'base' };
  if (path === '/v2/_catalog') {
    if (method !== 'GET' && method !== 'HEAD')
      return { kind: 'invalid', status: 405, code: 'UNSUPPORTED', message: 'the catalog is read-only' };
    return {
      kind: 'scoped',
      scopes: [{ type: 'registry', name: 'catalog', actions: ['*'] }],
      repository: undefined,
    };
  }
  for (const { re, route, last } of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    const name = m[1]!;
    if (!isRepositoryName(name))
      return {
        kind: 'invalid',
        status: 400,
        code: 'NAME_INVALID',
        message: `invalid repository name ${JSON.stringify(name.slice(0, 200))}`,
      };
    const actions = actionsFor(method);
    if (!actions)
      return {
        kind: 'invalid',
        status: 405,
        code: 'UNSUPPORTED',
        message: `method ${method} not allowed here`,
      };
    if ((route === 'tags' || route === 'referrers') && method !== 'GET' && method !== 'HEAD') {
      return {
        kind: 'invalid',
        status: 405,
        code: 'UNSUPPORTED',
        message: `method ${method} not allowed here`,
      };
    }
    if (last && !last.test(m[2]!)) return invalid(404, 'NOT_FOUND', 'unknown registry API route');
    const scopes: Scope[] = [{ type: 'repository', name, actions }];
    const out: RouteAccess = { kind: 'scoped', scopes, repository: name };
    if (route === 'manifest' && (method === 'PUT' || method === 'DELETE')) {
      const ref = manifestReference(m[2]!);
      // What distribution would read as a tag and then fail on: refused, so the tag
      // policy never has to guess which tag an odd reference names.
      if (ref.kind === 'invalid')
        return invalid(400, 'DIGEST_INVALID', 'invalid manifest reference: neither a tag nor a digest');
      if (ref.kind === 'tag') out.tag = ref.tag;
    }
    if (route === 'upload') {
      // distribution reads mount, from, digest and _state with r.FormValue: a form body first.
      if (readsFormBody(contentType))
        return invalid(400, 'UNSUPPORTED', 'form or multipart bodies are not accepted on upload routes');
      if (method === 'POST' && m[2] === '') {
        const mounts = queryValues(query, 'mount');
        const froms = queryValues(query, 'from');
        if (mounts.length > 1) return invalid(400, 'DIGEST_INVALID', 'more than one mount parameter');
        if (froms.length > 1) return invalid(400, 'NAME_INVALID', 'more than one from parameter');
        const from = froms[0];
        // The registry mounts only when both are non-empty.
        if (mounts[0] && from && from !== name) {
          if (!isRepositoryName(from))
            return invalid(400, 'NAME_INVALID', `invalid mount source ${JSON.stringify(from.slice(0, 200))}`);
          scopes.push({ type: 'repository', name: from, actions: ['pull'] });
          out.mountFrom = from;
        }
      }
    }
    return out;
  }
  return { kind: 'invalid', status: 404, code: 'NOT_FOUND', message: 'unknown registry API route' };
}
