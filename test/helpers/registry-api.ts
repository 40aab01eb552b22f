// Small registry API calls (blob upload, manifest put) for tests that need content in place,
// straight at a registry or through the proxy.
import { createHash } from 'node:crypto';
import { OCI_CONFIG, OCI_MANIFEST } from './oci.js';

export const sha256 = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Absolute URL of an upload Location (distribution may answer a relative one). */
export function locationUrl(base: string, loc: string | null): string {
  if (!loc) throw new Error('no Location header');
  return new URL(loc, base).toString();
}

/** POST + PUT: uploads `data` into `repo`; returns the digest. Throws unless 201. */
export async function uploadBlob(
  base: string,
  repo: string,
  data: Buffer | string,
  headers: Record<string, string> = {},
): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`upload start in ${repo}: HTTP ${start.status}`);
  const u = new URL(locationUrl(base, start.headers.get('location')));
  u.searchParams.set('digest', digest);
  const put = await fetch(u, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: data,
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`upload PUT in ${repo}: HTTP ${put.status}`);
  return digest;
}

/** Puts a minimal OCI manifest (its config blob too) at repo:tag; returns the manifest body. */
export async function putManifest(
  base: string,
  repo: string,
  tag: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const config = `{"marker":"${repo}:${tag}"}`;
  const cd = await uploadBlob(base, repo, config, headers);
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: cd, size: Buffer.byteLength(config) },
    layers: [],
  });
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': OCI_MANIFEST },
    body,
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`manifest PUT ${repo}:${tag}: HTTP ${res.status}`);
  return body;
}
