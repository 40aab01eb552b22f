// A reference model of what distribution 2.8 acts on for a request: Go's request-target
// parsing (net/url), gorilla mux (clean-path and strict-slash redirects, matching on the
// decoded path), the v2 route grammar (registry/api/v2/descriptors.go, reference/regexp.go,
// go-digest), and r.FormValue (form body first, then the query, Go >= 1.17 parsing).
// Written from distribution's sources, independently of src/proxy, to check the proxy against.

const ALNUM = '[a-z0-9]+';
// distribution writes `[-]*`; an empty separator only joins two alphanumeric runs, so `[-]+`
// is the same language without the exponential backtracking JS (unlike RE2) would do.
const SEPARATOR = '(?:[._]|__|[-]+)';
const NAME_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+';
const UUID = '[a-zA-Z0-9\\-_.=]+';
const NAME_RE = new RegExp(`^${NAME}$`);

export type RegistryRoute =
  | 'base'
  | 'manifest'
  | 'tags'
  | 'blob'
  | 'blob-upload'
  | 'blob-upload-chunk'
  | 'catalog';

// Registration order of routeDescriptors; each template ends with [/]? (StrictSlash(true)).
const ROUTES: { route: RegistryRoute; re: RegExp; slash: boolean }[] = [
  { route: 'base', re: /^\/v2\/?$/, slash: true },
  { route: 'manifest', re: new RegExp(`^/v2/(${NAME})/manifests/(${TAG}|${DIGEST})/?$`), slash: false },
  { route: 'tags', re: new RegExp(`^/v2/(${NAME})/tags/list/?$`), slash: false },
  { route: 'blob', re: new RegExp(`^/v2/(${NAME})/blobs/(${DIGEST})/?$`), slash: false },
  { route: 'blob-upload', re: new RegExp(`^/v2/(${NAME})/blobs/uploads/?$`), slash: true },
  { route: 'blob-upload-chunk', re: new RegExp(`^/v2/(${NAME})/blobs/uploads/(${UUID})/?$`), slash: false },
  { route: 'catalog', re: /^\/v2\/_catalog\/?$/, slash: false },
];

export type RegistryAction =
  | { kind: 'bad-request' }
  | { kind: 'redirect' }
  | { kind: 'not-found' }
  | { kind: 'name-invalid' }
  | {
      kind: 'route';
      route: RegistryRoute;
      name: string | undefined;
      /** The repository a blob-upload POST would mount from. */
      mountFrom?: string;
    };

export interface ModelRequest {
  method: string;
  /** The request target as sent (origin-form). */
  target: string;
  contentType?: string;
  /** Form fields the body carries when its content type is a form (urlencoded or multipart). */
  bodyFields?: [string, string][];
}

function modelUnescape(s: string, query: boolean): string | undefined {
  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += Buffer.from(bytes.splice(0)).toString('utf8');
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return undefined;
      bytes.push(Number.parseInt(h, 16));
      i += 2;
    } else {
      flush();
      out += query && c === '+' ? ' ' : c;
    }
  }
  flush();
  return out;
}

/** url.ParseQuery (Go >= 1.17). */
export function goParseQuery(raw: string): [string, string][] {
  const out: [string, string][] = [];
  for (const pair of raw.split('&')) {
    if (pair.includes(';') || pair === '') continue;
    const i = pair.indexOf('=');
    const k = modelUnescape(i < 0 ? pair : pair.slice(0, i), true);
    const v = modelUnescape(i < 0 ? '' : pair.slice(i + 1), true);
    if (k !== undefined && v !== undefined) out.push([k, v]);
  }
  return out;
}

/** path.Clean, keeping a trailing slash (gorilla mux cleanPath). */
function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  let out = `/${parts.join('/')}`;
  if (p.endsWith('/') && out !== '/') out += '/';
  return out;
}

function formValue(req: ModelRequest, query: [string, string][], key: string): string {
  const ct = (req.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const reads =
    (ct === 'application/x-www-form-urlencoded' && ['POST', 'PUT', 'PATCH'].includes(req.method)) ||
    ct === 'multipart/form-data';
  const body = reads ? (req.bodyFields ?? []) : [];
  return [...body, ...query].find(([k]) => k === key)?.[1] ?? '';
}

/** What distribution 2.8 does with the request. */
export function registryAction(req: ModelRequest): RegistryAction {
  const q = req.target.indexOf('?');
  const rawPath = q < 0 ? req.target : req.target.slice(0, q);
  const query = goParseQuery(q < 0 ? '' : req.target.slice(q + 1));
  const path = modelUnescape(rawPath, false);
  if (path === undefined) return { kind: 'bad-request' };
  if (cleanPath(path) !== path) return { kind: 'redirect' };
  for (const r of ROUTES) {
    const m = r.re.exec(path);
    if (!m) continue;
    if (path.endsWith('/') !== r.slash) return { kind: 'redirect' };
    const name = m[1];
    if (name !== undefined && name.length > 255) return { kind: 'name-invalid' };
    const out: RegistryAction = { kind: 'route', route: r.route, name };
    if (r.route === 'blob-upload' && req.method === 'POST') {
      const from = formValue(req, query, 'from');
      if (formValue(req, query, 'mount') !== '' && from !== '' && NAME_RE.test(from) && from.length <= 255)
        out.mountFrom = from;
    }
    return out;
  }
  return { kind: 'not-found' };
}

/** The actions the registry's access controller asks for (app.go appendAccessRecords). */
export function registryNeeds(method: string, a: RegistryAction): { name: string; actions: string[] }[] {
  if (a.kind !== 'route' || a.name === undefined) return [];
  const main = (() => {
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
        return [];
    }
  })();
  const out = [{ name: a.name, actions: main }];
  if (a.mountFrom && a.mountFrom !== a.name) out.push({ name: a.mountFrom, actions: ['pull'] });
  return out;
}
