// A differential conformance check modelled on the OCI distribution-spec conformance suite
// (which cannot be fetched here): each case is a request sequence sent once to the bare
// registry and once through Purser's proxy; the observations (status, key headers, body
// shape) must be the same. Repository names, upload UUIDs, `_state` and the server's own
// origin are abstracted away, so only behaviour a client could tell apart remains.
import { createHash, randomBytes } from 'node:crypto';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from './oci.js';
import { type WireResponse, wire } from './wire.js';

export interface ConformanceTarget {
  /** Part of the repository names, so the sides never share state; the same length on both sides (body lengths compare). */
  label: string;
  /** http://127.0.0.1:PORT */
  base: string;
  /** Headers that grant these actions (`*`, `pull`, `pull,push`…) on these repositories. */
  auth(access: Access[]): Promise<Record<string, string>>;
}

export interface Access {
  repo: string;
  actions: string;
}

export interface Observation {
  step: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers a client acts on; compared whatever the status. */
const KEY_HEADERS = [
  'docker-content-digest',
  'location',
  'range',
  'content-range',
  'oci-chunk-min-length',
  'docker-upload-uuid',
  'link',
  'www-authenticate',
] as const;
/** Compared on success only (an error body's length or type is not behaviour). */
const SUCCESS_HEADERS = ['content-length', 'content-type', 'accept-ranges'] as const;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

export const sha256 = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Deterministic bytes (the same on both sides, so digests compare as values). */
export function bytes(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < n; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export interface TestImage {
  config: Buffer;
  layer: Buffer;
  manifest: Buffer;
  digest: string;
}

export function testImage(seed: string): TestImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(seed)] },
    }),
  );
  const layer = bytes(`${seed}-layer`, 3_000);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers: [{ mediaType: OCI_LAYER_GZIP, digest: sha256(layer), size: layer.length }],
    }),
  );
  return { config, layer, manifest, digest: sha256(manifest) };
}

export class Session {
  readonly observations: Observation[] = [];
  /** Actual repository name → placeholder. */
  private readonly names = new Map<string, string>();
  private authHeaders: Record<string, string> = {};

  constructor(
    readonly target: ConformanceTarget,
    private readonly prefix: string,
  ) {}

  /** The actual name of logical repository `n` on this side. */
  repo(n: string): string {
    const name = `${this.prefix}/${this.target.label}-${n}`;
    this.names.set(name, `<${n}>`);
    return name;
  }

  /**
   * Authorises the session (call before the steps it covers): `name` for every action on
   * logical repository name, `name:ACTIONS` for only those; nothing: no credentials.
   */
  async authorise(...logical: string[]): Promise<void> {
    if (logical.length === 0) {
      this.authHeaders = {};
      return;
    }
    this.authHeaders = await this.target.auth(
      logical.map((l) => {
        const [n = l, actions = '*'] = l.split(':');
        return { repo: this.repo(n), actions };
      }),
    );
  }

  /** Sends one request (path relative to base, or an absolute URL) and records what came back. */
  async step(
    step: string,
    method: string,
    path: string,
    opts: { headers?: Record<string, string>; body?: Buffer | string } = {},
  ): Promise<WireResponse> {
    const url = new URL(path, this.target.base).toString();
    let res: WireResponse;
    try {
      res = await wire({
        method,
        url,
        headers: { ...this.authHeaders, ...(opts.headers ?? {}) },
        ...(opts.body !== undefined ? { body: opts.body } : {}),
      });
    } catch (e) {
      // A reset or a hang is an observation too (status 0), not the end of the sequence.
      const err = e as NodeJS.ErrnoException;
      res = { status: 0, headers: {}, body: Buffer.alloc(0) };
      this.observations.push({ step, status: 0, headers: {}, body: `no answer: ${err.code ?? err.message}` });
      return res;
    }
    this.observations.push(this.observe(step, res));
    return res;
  }

  /** The Location of a response, resolved against this side's base. */
  location(res: WireResponse): string {
    const loc = res.headers.location;
    if (!loc) throw new Error(`no Location in a ${res.status} answer: ${res.body.toString().slice(0, 300)}`);
    return new URL(loc, this.target.base).toString();
  }

  /** POST + PUT of one blob (recorded as `label POST` / `label PUT`). */
  async pushBlob(label: string, repo: string, data: Buffer): Promise<void> {
    const start = await this.step(`${label}: POST`, 'POST', `/v2/${repo}/blobs/uploads/`);
    const put = withQuery(this.location(start), { digest: sha256(data) });
    await this.step(`${label}: PUT`, 'PUT', put, {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
  }

  async pushImage(label: string, repo: string, img: TestImage, ref: string): Promise<void> {
    await this.pushBlob(`${label} config`, repo, img.config);
    await this.pushBlob(`${label} layer`, repo, img.layer);
    await this.step(`${label} manifest PUT`, 'PUT', `/v2/${repo}/manifests/${ref}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: img.manifest,
    });
  }

  private abstract(s: string): string {
    let out = s;
    // Longest first, so a name that extends another is never half-replaced.
    for (const [name, ph] of [...this.names].sort((a, b) => b[0].length - a[0].length))
      out = out.split(name).join(ph);
    return out.replace(UUID, '<uuid>');
  }

  private normaliseUrl(v: string): string {
    const u = new URL(v, this.target.base);
    // A Location or Link must lead back to the server the client is talking to.
    const origin = u.origin === new URL(this.target.base).origin ? '' : `FOREIGN ${u.origin} `;
    const q = [...u.searchParams.entries()]
      .map(([k, val]) => `${k}=${k === '_state' ? '<state>' : val}`)
      .sort()
      .join('&');
    return `${origin}${this.abstract(u.pathname)}${q ? `?${this.abstract(q)}` : ''}`;
  }

  private observe(step: string, res: WireResponse): Observation {
    const headers: Record<string, string> = {};
    const pick = (h: string): void => {
      const v = res.headers[h];
      if (v === undefined) return;
      if (h === 'location') headers[h] = this.normaliseUrl(v);
      else if (h === 'link')
        headers[h] = v.replace(/<([^>]*)>/g, (_m, u: string) => `<${this.normaliseUrl(u)}>`);
      // The realm is each server's own; what a client acts on is the error and the scope
      // (whose order of scopes and actions carries no meaning: distribution itself varies it).
      else if (h === 'www-authenticate')
        headers[h] = this.abstract(
          [...v.matchAll(/\b(error|scope)="([^"]*)"/g)]
            .map(([, k, val = '']) => `${k}="${k === 'scope' ? sortActions(val) : val}"`)
            .join(','),
        );
      else headers[h] = this.abstract(v);
    };
    for (const h of KEY_HEADERS) pick(h);
    if (res.status < 300) for (const h of SUCCESS_HEADERS) pick(h);
    return { step, status: res.status, headers, body: this.describeBody(res) };
  }

  private describeBody(res: WireResponse): string {
    if (res.truncated) return 'cut short (fewer bytes than its Content-Length)';
    if (res.body.length === 0) return '';
    const type = res.headers['content-type'] ?? '';
    if (res.status >= 400) {
      try {
        const j = JSON.parse(res.body.toString()) as { errors?: { code?: string }[] };
        return `errors: ${(j.errors ?? []).map((e) => e.code).join(',')}`;
      } catch {
        return `non-JSON error body (${type})`;
      }
    }
    if (/json/.test(type) && !/manifest|index/.test(type)) return this.abstract(res.body.toString());
    return `${res.body.length} bytes ${sha256(res.body)}`;
  }
}

/** `repository:b:push,pull repository:a:pull` with the scopes and each one's actions sorted. */
function sortActions(scopes: string): string {
  return scopes
    .split(' ')
    .map((sc) => {
      const i = sc.lastIndexOf(':');
      return i < 0
        ? sc
        : `${sc.slice(0, i)}:${sc
            .slice(i + 1)
            .split(',')
            .sort()
            .join(',')}`;
    })
    .sort()
    .join(' ');
}

export function withQuery(url: string, q: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
  return u.toString();
}

export type ConformanceCase = (s: Session) => Promise<void>;

/** A digest no side ever pushes. */
const MISSING = sha256(`missing-${randomBytes(8).toString('hex')}`);

/** The cases, by the conformance suite's categories. */
export const CASES: Record<string, ConformanceCase> = {
  async pull(s) {
    await s.authorise('a', 'none');
    const r = s.repo('a');
    const img = testImage('pull');
    const layer = sha256(img.layer);
    await s.step('GET /v2/', 'GET', '/v2/');
    await s.pushImage('setup', r, img, 'v1');
    await s.step('blob HEAD', 'HEAD', `/v2/${r}/blobs/${layer}`);
    await s.step('blob GET', 'GET', `/v2/${r}/blobs/${layer}`);
    await s.step('blob GET Range 0-99', 'GET', `/v2/${r}/blobs/${layer}`, {
      headers: { range: 'bytes=0-99' },
    });
    await s.step('blob GET Range suffix', 'GET', `/v2/${r}/blobs/${layer}`, {
      headers: { range: 'bytes=-10' },
    });
    await s.step('blob GET Range open', 'GET', `/v2/${r}/blobs/${layer}`, {
      headers: { range: 'bytes=2990-' },
    });
    await s.step('blob GET Range unsatisfiable', 'GET', `/v2/${r}/blobs/${layer}`, {
      headers: { range: 'bytes=100000-' },
    });
    await s.step('blob HEAD unknown', 'HEAD', `/v2/${r}/blobs/${MISSING}`);
    await s.step('blob GET unknown', 'GET', `/v2/${r}/blobs/${MISSING}`);
    await s.step('blob GET invalid digest', 'GET', `/v2/${r}/blobs/sha256:zz`);
    const oci = { accept: OCI_MANIFEST };
    await s.step('manifest GET tag', 'GET', `/v2/${r}/manifests/v1`, { headers: oci });
    await s.step('manifest HEAD tag', 'HEAD', `/v2/${r}/manifests/v1`, { headers: oci });
    await s.step('manifest GET digest', 'GET', `/v2/${r}/manifests/${img.digest}`, { headers: oci });
    await s.step('manifest HEAD digest', 'HEAD', `/v2/${r}/manifests/${img.digest}`, { headers: oci });
    await s.step('manifest GET accepting only Docker v2', 'GET', `/v2/${r}/manifests/v1`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    await s.step('manifest GET with no Accept', 'GET', `/v2/${r}/manifests/v1`);
    await s.step('manifest GET unknown tag', 'GET', `/v2/${r}/manifests/nope`, { headers: oci });
    await s.step('manifest GET unknown digest', 'GET', `/v2/${r}/manifests/${MISSING}`, { headers: oci });
    await s.step('manifest GET unknown repository', 'GET', `/v2/${s.repo('none')}/manifests/v1`, {
      headers: oci,
    });
  },

  async 'push monolithic'(s) {
    await s.authorise('a');
    const r = s.repo('a');
    const blob = bytes('mono', 5_000);
    const single = bytes('mono-single', 1_200);
    await s.step(
      'POST with digest and body (single request)',
      'POST',
      `/v2/${r}/blobs/uploads/?digest=${sha256(single)}`,
      {
        headers: { 'content-type': 'application/octet-stream' },
        body: single,
      },
    );
    await s.pushBlob('POST+PUT', r, blob);
    await s.step('blob HEAD after push', 'HEAD', `/v2/${r}/blobs/${sha256(blob)}`);
    const start = await s.step('mismatch: POST', 'POST', `/v2/${r}/blobs/uploads/`);
    await s.step('mismatch: PUT wrong digest', 'PUT', withQuery(s.location(start), { digest: MISSING }), {
      headers: { 'content-type': 'application/octet-stream' },
      body: blob,
    });
    const img = testImage('mono');
    await s.pushImage('image', r, img, 'v1');
    await s.step('manifest PUT by digest', 'PUT', `/v2/${r}/manifests/${img.digest}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: img.manifest,
    });
    const dangling = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: MISSING, size: 2 },
        layers: [],
      }),
    );
    await s.step('manifest PUT naming an unknown blob', 'PUT', `/v2/${r}/manifests/dangling`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: dangling,
    });
    await s.step('manifest PUT invalid JSON', 'PUT', `/v2/${r}/manifests/bad`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: '{not json',
    });
  },

  async 'push chunked'(s) {
    await s.authorise('a');
    const r = s.repo('a');
    const blob = bytes('chunked', 3_500);
    const start = await s.step('POST', 'POST', `/v2/${r}/blobs/uploads/`);
    const octet = { 'content-type': 'application/octet-stream' };
    const p1 = await s.step('PATCH 0-999', 'PATCH', s.location(start), {
      headers: { ...octet, 'content-range': '0-999' },
      body: blob.subarray(0, 1000),
    });
    await s.step('upload status GET', 'GET', s.location(p1));
    const p2 = await s.step('PATCH 1000-1999', 'PATCH', s.location(p1), {
      headers: { ...octet, 'content-range': '1000-1999' },
      body: blob.subarray(1000, 2000),
    });
    const p3 = await s.step('PATCH streamed (no Content-Range)', 'PATCH', s.location(p2), {
      headers: octet,
      body: blob.subarray(2000),
    });
    await s.step('upload status GET after chunks', 'GET', s.location(p3));
    // docker streams a layer as one PATCH with Transfer-Encoding: chunked and no length.
    const s4 = await s.step('POST (4)', 'POST', `/v2/${r}/blobs/uploads/`);
    const t1 = await s.step('PATCH Transfer-Encoding: chunked', 'PATCH', s.location(s4), {
      headers: { ...octet, 'transfer-encoding': 'chunked' },
      body: blob,
    });
    await s.step(
      'PUT after a chunked-encoding PATCH',
      'PUT',
      withQuery(s.location(t1), { digest: sha256(blob) }),
    );
    await s.step('PUT digest, no body', 'PUT', withQuery(s.location(p3), { digest: sha256(blob) }));
    await s.step('blob HEAD after push', 'HEAD', `/v2/${r}/blobs/${sha256(blob)}`);
    await s.step('upload status GET after PUT', 'GET', s.location(p3));
    // A chunk that does not start where the upload ends.
    const s3 = await s.step('POST (3)', 'POST', `/v2/${r}/blobs/uploads/`);
    const o1 = await s.step('PATCH 0-999 (3)', 'PATCH', s.location(s3), {
      headers: { ...octet, 'content-range': '0-999' },
      body: blob.subarray(0, 1000),
    });
    await s.step('PATCH out of order', 'PATCH', s.location(o1), {
      headers: { ...octet, 'content-range': '2000-2999' },
      body: blob.subarray(2000, 3000),
    });
    await s.step('upload status GET after a refused chunk', 'GET', s.location(o1));
    // The last chunk in the closing PUT.
    const s2 = await s.step('POST (2)', 'POST', `/v2/${r}/blobs/uploads/`);
    const q1 = await s.step('PATCH 0-1999 (2)', 'PATCH', s.location(s2), {
      headers: { ...octet, 'content-range': '0-1999' },
      body: blob.subarray(0, 2000),
    });
    await s.step('PUT with last chunk', 'PUT', withQuery(s.location(q1), { digest: sha256(blob) }), {
      headers: { ...octet, 'content-range': '2000-3499' },
      body: blob.subarray(2000),
    });
  },

  async 'upload cancel'(s) {
    await s.authorise('a');
    const r = s.repo('a');
    const start = await s.step('POST', 'POST', `/v2/${r}/blobs/uploads/`);
    const loc = s.location(start);
    await s.step('upload status GET', 'GET', loc);
    await s.step('DELETE upload', 'DELETE', loc);
    await s.step('upload status GET after cancel', 'GET', loc);
    await s.step('DELETE upload again', 'DELETE', loc);
    await s.step('PATCH to a cancelled upload', 'PATCH', loc, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': '0-9' },
      body: bytes('x', 10),
    });
    await s.step(
      'upload status GET of an unknown upload',
      'GET',
      `/v2/${r}/blobs/uploads/0e8b1c1a-6c31-4a3e-9a45-8d1f0c9b7a11`,
    );
  },

  async mount(s) {
    await s.authorise('src', 'dst', 'empty');
    const src = s.repo('src');
    const dst = s.repo('dst');
    const empty = s.repo('empty');
    const blob = bytes('mount', 2_500);
    await s.pushBlob('setup', src, blob);
    await s.step('mount from src', 'POST', `/v2/${dst}/blobs/uploads/?mount=${sha256(blob)}&from=${src}`);
    await s.step('blob HEAD after mount', 'HEAD', `/v2/${dst}/blobs/${sha256(blob)}`);
    await s.step(
      'mount of a missing blob',
      'POST',
      `/v2/${empty}/blobs/uploads/?mount=${MISSING}&from=${src}`,
    );
    await s.step(
      'mount from a repository without the blob',
      'POST',
      `/v2/${empty}/blobs/uploads/?mount=${sha256(blob)}&from=${s.repo('empty')}`,
    );
    await s.step('mount without from', 'POST', `/v2/${empty}/blobs/uploads/?mount=${sha256(blob)}`);
  },

  async 'mount with pull-only access to the source'(s) {
    await s.authorise('src');
    const src = s.repo('src');
    const blob = bytes('mount-pull-only', 2_600);
    await s.pushBlob('setup', src, blob);
    await s.authorise('src:pull', 'dst');
    const dst = s.repo('dst');
    await s.step('mount from src', 'POST', `/v2/${dst}/blobs/uploads/?mount=${sha256(blob)}&from=${src}`);
    await s.step('blob HEAD after mount', 'HEAD', `/v2/${dst}/blobs/${sha256(blob)}`);
  },

  async discovery(s) {
    await s.authorise('a', 'none');
    const r = s.repo('a');
    const img = testImage('discovery');
    await s.pushImage('setup', r, img, 'a');
    for (const t of ['b', 'c', 'd'])
      await s.step(`tag ${t}`, 'PUT', `/v2/${r}/manifests/${t}`, {
        headers: { 'content-type': OCI_MANIFEST },
        body: img.manifest,
      });
    await s.step('tags/list', 'GET', `/v2/${r}/tags/list`);
    await s.step('tags/list n=2', 'GET', `/v2/${r}/tags/list?n=2`);
    await s.step('tags/list n=2 last=b', 'GET', `/v2/${r}/tags/list?n=2&last=b`);
    await s.step('tags/list last=d', 'GET', `/v2/${r}/tags/list?last=d`);
    await s.step('tags/list n=0', 'GET', `/v2/${r}/tags/list?n=0`);
    await s.step('tags/list unknown repository', 'GET', `/v2/${s.repo('none')}/tags/list`);
    await s.step('referrers', 'GET', `/v2/${r}/referrers/${img.digest}`);
    await s.step('referrers with artifactType', 'GET', `/v2/${r}/referrers/${img.digest}?artifactType=x%2Fy`);
  },

  async management(s) {
    await s.authorise('a');
    const r = s.repo('a');
    const img = testImage('management');
    await s.pushImage('setup', r, img, 'v1');
    await s.step('tag v2', 'PUT', `/v2/${r}/manifests/v2`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: img.manifest,
    });
    const oci = { accept: OCI_MANIFEST };
    await s.step('DELETE tag', 'DELETE', `/v2/${r}/manifests/v2`);
    await s.step('DELETE manifest by digest', 'DELETE', `/v2/${r}/manifests/${img.digest}`);
    await s.step('manifest GET by digest after delete', 'GET', `/v2/${r}/manifests/${img.digest}`, {
      headers: oci,
    });
    await s.step('manifest GET tag after delete', 'GET', `/v2/${r}/manifests/v1`, { headers: oci });
    await s.step('DELETE manifest again', 'DELETE', `/v2/${r}/manifests/${img.digest}`);
    const layer = sha256(img.layer);
    await s.step('DELETE blob', 'DELETE', `/v2/${r}/blobs/${layer}`);
    await s.step('blob HEAD after delete', 'HEAD', `/v2/${r}/blobs/${layer}`);
    await s.step('DELETE blob again', 'DELETE', `/v2/${r}/blobs/${layer}`);
    await s.step('DELETE unknown blob', 'DELETE', `/v2/${r}/blobs/${MISSING}`);
  },
};

/**
 * Cases where the bare side's answer depends on the registry checking tokens itself, so they
 * compare only in token mode: what a token that lacks an action gets.
 */
export const TOKEN_CASES: Record<string, ConformanceCase> = {
  async 'mount with a token lacking pull on the source'(s) {
    await s.authorise('src');
    const src = s.repo('src');
    const blob = bytes('mount-no-source-scope', 2_700);
    await s.pushBlob('setup', src, blob);
    // The registry answers 401 naming the source scope, so the client can get a token with it
    // and retry into a real mount; a 202 instead makes the client upload the whole blob.
    await s.authorise('dst');
    const dst = s.repo('dst');
    await s.step('mount from src', 'POST', `/v2/${dst}/blobs/uploads/?mount=${sha256(blob)}&from=${src}`);
    await s.authorise('src:pull', 'dst');
    await s.step(
      'mount from src, retried with the source scope',
      'POST',
      `/v2/${dst}/blobs/uploads/?mount=${sha256(blob)}&from=${src}`,
    );
  },

  async 'refusals for a token without the action'(s) {
    await s.authorise('a');
    const r = s.repo('a');
    const img = testImage('refusals');
    await s.pushImage('setup', r, img, 'v1');
    await s.authorise('a:pull', 'other:pull');
    const o = s.repo('other');
    await s.step('GET manifest (pull granted)', 'GET', `/v2/${r}/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
    await s.step('POST upload (no push)', 'POST', `/v2/${r}/blobs/uploads/`);
    await s.step('PUT manifest (no push)', 'PUT', `/v2/${r}/manifests/v2`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: img.manifest,
    });
    await s.step('DELETE manifest (no delete)', 'DELETE', `/v2/${r}/manifests/${img.digest}`);
    await s.step('DELETE blob (no delete)', 'DELETE', `/v2/${r}/blobs/${sha256(img.layer)}`);
    await s.step(
      'mount into a pull-only repository',
      'POST',
      `/v2/${o}/blobs/uploads/?mount=${img.digest}&from=${r}`,
    );
    await s.step('GET a repository not in the token', 'GET', `/v2/${s.repo('elsewhere')}/tags/list`);
    await s.authorise();
    await s.step('GET /v2/ without a token', 'GET', '/v2/');
    await s.step('GET manifest without a token', 'GET', `/v2/${r}/manifests/v1`, {
      headers: { accept: OCI_MANIFEST },
    });
  },
};

/** Differences between two sides' observations, one line each (empty: the same). */
export function differences(a: Observation[], b: Observation[]): string[] {
  const out: string[] = [];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (!x || !y) {
      out.push(`step ${i}: only one side has ${(x ?? y)?.step}`);
      continue;
    }
    const where = `${x.step}`;
    if (x.status !== y.status) out.push(`${where}: status ${x.status} vs ${y.status}`);
    for (const h of new Set([...Object.keys(x.headers), ...Object.keys(y.headers)]))
      if (x.headers[h] !== y.headers[h])
        out.push(`${where}: ${h} ${JSON.stringify(x.headers[h])} vs ${JSON.stringify(y.headers[h])}`);
    if (x.body !== y.body) out.push(`${where}: body ${JSON.stringify(x.body)} vs ${JSON.stringify(y.body)}`);
  }
  return out;
}

/** Runs one case on both sides (direct first) and returns both transcripts and their differences. */
export async function runDifferential(
  name: string,
  direct: ConformanceTarget,
  proxy: ConformanceTarget,
  prefix: string,
): Promise<{ direct: Observation[]; proxy: Observation[]; diff: string[] }> {
  const c = CASES[name] ?? TOKEN_CASES[name];
  if (!c) throw new Error(`no conformance case ${name}`);
  if (direct.base === proxy.base) throw new Error('both sides of the differential are the same server');
  const slug = name.replace(/\W+/g, '-');
  const d = new Session(direct, `${prefix}-${slug}`);
  await c(d);
  const p = new Session(proxy, `${prefix}-${slug}`);
  await c(p);
  return { direct: d.observations, proxy: p.observations, diff: differences(d.observations, p.observations) };
}

export function transcript(obs: Observation[]): string {
  return obs
    .map((o) => `  ${o.step}: ${o.status} ${JSON.stringify(o.headers)}${o.body ? ` ${o.body}` : ''}`)
    .join('\n');
}
