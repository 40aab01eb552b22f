import { isRepositoryName, type Scope } from '../protocol/scope.js';

/** What a registry API request needs, worked out from its method and path alone. */
export type RouteAccess =
  | { kind: 'base' }
  | { kind: 'scoped'; scopes: Scope[]; repository: string | undefined; mountFrom?: string }
  | { kind: 'invalid'; status: number; code: string; message: string };

const ROUTES: { re: RegExp; route: 'tags' | 'manifest' | 'upload' | 'blob' | 'referrers' }[] = [
  { re: /^\/v2\/(.+)\/tags\/list$/, route: 'tags' },
  { re: /^\/v2\/(.+)\/manifests\/([^/]+)$/, route: 'manifest' },
  { re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/, route: 'upload' },
  { re: /^\/v2\/(.+)\/blobs\/([^/]+)$/, route: 'blob' },
  { re: /^\/v2\/(.+)\/referrers\/([^/]+)$/, route: 'referrers' },
];

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
 */
export function requiredAccess(method: string, path: string, query: URLSearchParams): RouteAccess {
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
  for (const { re, route } of ROUTES) {
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
    const scopes: Scope[] = [{ type: 'repository', name, actions }];
    const out: RouteAccess = { kind: 'scoped', scopes, repository: name };
    if (route === 'upload' && method === 'POST' && m[2] === '') {
      const from = query.get('from');
      if (query.has('mount') && from && from !== name && isRepositoryName(from)) {
        scopes.push({ type: 'repository', name: from, actions: ['pull'] });
        out.mountFrom = from;
      }
    }
    return out;
  }
  return { kind: 'invalid', status: 404, code: 'NOT_FOUND', message: 'unknown registry API route' };
}
