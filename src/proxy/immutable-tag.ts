import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import { PurserError, RegistryRefusal } from '../core/errors.js';

/**
 * `immutable: true` (proxy.tags): before a manifest PUT by tag is forwarded, the tag is
 * looked up upstream (HEAD, with the proxy's upstream credentials). Absent: the PUT goes
 * ahead. Present: the PUT is accepted only when its body is that same manifest (its digest
 * equals the tag's), so re-running a push is harmless; anything else is refused. The
 * registry has no conditional PUT: two first pushes of a tag racing each other can both
 * pass the check, and the later one wins (docs/proxy-policy.md).
 */

/** The largest manifest body the check reads (distribution 3's manifest limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Manifest bodies held at once across all requests; more waits for none and is refused (503). */
export const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Every manifest type, so the registry answers with the stored manifest's own digest (no conversion). */
const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
].join(', ');

const DIGEST = /^(sha256|sha384|sha512):[a-f0-9]+$/;

/** The digest the tag points at upstream, or undefined when the tag does not exist. */
export async function existingTagDigest(
  pool: Dispatcher,
  path: string,
  authorization: string | undefined,
): Promise<string | undefined> {
  let res: Dispatcher.ResponseData;
  try {
    res = await pool.request({
      path,
      method: 'HEAD',
      headers: { accept: ACCEPT, ...(authorization ? { authorization } : {}) },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    await res.body.dump();
  } catch {
    throw new PurserError('UNAVAILABLE', 'upstream registry unavailable: cannot check an immutable tag');
  }
  if (res.statusCode === 404) return undefined;
  const d = res.headers['docker-content-digest'];
  const digest = Array.isArray(d) ? d[0] : d;
  if (res.statusCode === 200 && digest && DIGEST.test(digest)) return digest;
  // Fail closed: without an answer, the tag may exist.
  throw new PurserError(
    'UNAVAILABLE',
    `cannot check an immutable tag: the upstream answered HTTP ${res.statusCode} to its HEAD`,
  );
}

/** The digest of `body` in the algorithm of `like` (`sha256:…`). */
export function digestLike(like: string, body: Buffer): string {
  const alg = like.slice(0, like.indexOf(':'));
  return `${alg}:${createHash(alg).update(body).digest('hex')}`;
}

/** Bytes of manifest bodies held now, bounded by MAX_BUFFERED_BYTES. */
export class ManifestBuffers {
  #held = 0;
  readonly #max: number;
  constructor(max = MAX_BUFFERED_BYTES) {
    this.#max = max;
  }

  get held(): number {
    return this.#held;
  }

  /**
   * Reads the request's body whole (at most MAX_MANIFEST_BYTES); the bytes count against the
   * budget until `release` is called (once the response is over).
   */
  async read(req: IncomingMessage, onRelease: (release: () => void) => void): Promise<Buffer> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let released = false;
    onRelease(() => {
      if (released) return;
      released = true;
      this.#held -= size;
    });
    for await (const chunk of req as AsyncIterable<Buffer>) {
      if (released) break;
      size += chunk.length;
      this.#held += chunk.length;
      if (size > MAX_MANIFEST_BYTES) throw tooLarge();
      if (this.#held > this.#max)
        throw new PurserError('UNAVAILABLE', 'too many manifests being checked at once; try again shortly');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }
}

const tooLarge = () =>
  new RegistryRefusal(
    'INVALID_REQUEST',
    'MANIFEST_INVALID',
    `manifest too large: at most ${MAX_MANIFEST_BYTES} bytes for an immutable tag`,
  );
