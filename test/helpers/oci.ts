// Builds an OCI image layout on disk with no daemon: one gzip'd tar layer of random content.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { makeTempDir } from './tmp.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface OciImage {
  /** The layout directory (lowercase path). */
  dir: string;
  tag: string;
  /** `oci:DIR:TAG`, for skopeo and podman. */
  ref: string;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Size in bytes of the compressed layer blob. */
  layerBlobSize: number;
}

export interface OciOptions {
  /** Where to build; a fresh temp dir when omitted. Must not exist yet or be empty. */
  dir?: string;
  /** Defaults to "latest". */
  tag?: string;
  /** Bytes of random content in the layer's big file. Default 4096. */
  layerSize?: number;
  /** gzip level for the layer (0 = stored, fastest: random content does not compress). Default 0 above 1 MiB, else 1. */
  gzipLevel?: number;
}

// ---- a minimal ustar writer ----

function octal(n: number, width: number): string {
  // width includes the terminating NUL
  return n.toString(8).padStart(width - 1, '0');
}

function tarHeader(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(512, 0);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii'); // checksum placeholder: spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\u0000', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rem = size % 512;
  return Buffer.alloc(rem === 0 ? 0 : 512 - rem, 0);
}

/** Yields a tar stream: data/, data/id.txt (random uuid), data/random.bin (layerSize random bytes). */
async function* tarEntries(layerSize: number): AsyncGenerator<Buffer> {
  yield tarHeader('data/', 0, '5', 0o755);
  const id = Buffer.from(`${randomUUID()}\n`);
  yield tarHeader('data/id.txt', id.length, '0', 0o644);
  yield id;
  yield padding(id.length);
  yield tarHeader('data/random.bin', layerSize, '0', 0o644);
  const chunk = 1024 * 1024;
  for (let left = layerSize; left > 0; left -= chunk) yield randomBytes(Math.min(chunk, left));
  yield padding(layerSize);
  yield Buffer.alloc(1024, 0); // two zero blocks end the archive
}

function hashingTap(hash: ReturnType<typeof createHash>, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function writeBlob(dir: string, content: Buffer | string): string {
  const digest = sha256(content);
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), content);
  return digest;
}

/** Builds a unique single-layer image as an OCI layout directory. */
export async function buildOciImage(opts: OciOptions = {}): Promise<OciImage> {
  const dir = opts.dir ?? makeTempDir('purser-oci-');
  const tag = opts.tag ?? 'latest';
  const layerSize = opts.layerSize ?? 4096;
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });

  const rawHash = createHash('sha256');
  const gzHash = createHash('sha256');
  const rawCount = { n: 0 };
  const gzCount = { n: 0 };
  const tmp = join(blobs, `.layer-${randomUUID()}`);
  await pipeline(
    Readable.from(tarEntries(layerSize)),
    hashingTap(rawHash, rawCount),
    createGzip({ level: opts.gzipLevel ?? (layerSize > 1024 * 1024 ? 0 : 1) }),
    hashingTap(gzHash, gzCount),
    createWriteStream(tmp),
  );
  const diffId = `sha256:${rawHash.digest('hex')}`;
  const layerDigest = `sha256:${gzHash.digest('hex')}`;
  renameSync(tmp, join(blobs, layerDigest.slice(7)));

  const config = JSON.stringify({
    created: new Date().toISOString(),
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: new Date().toISOString(), created_by: 'purser e2e test harness' }],
  });
  const configDigest = writeBlob(dir, config);

  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: Buffer.byteLength(config) },
    layers: [{ mediaType: OCI_LAYER_GZIP, digest: layerDigest, size: gzCount.n }],
  });
  const manifestDigest = writeBlob(dir, manifest);

  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: OCI_MANIFEST,
        digest: manifestDigest,
        size: Buffer.byteLength(manifest),
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  return {
    dir,
    tag,
    ref: `oci:${dir}:${tag}`,
    manifestDigest,
    configDigest,
    layerDigest,
    diffId,
    layerBlobSize: gzCount.n,
  };
}

interface IndexJson {
  manifests?: { digest: string; annotations?: Record<string, string> }[];
}

/** The manifest digest that an OCI layout's index.json records for tag (or the only one). */
export function readLayoutDigest(dir: string, tag?: string): string {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as IndexJson;
  const list = index.manifests ?? [];
  const found =
    tag === undefined
      ? list.length === 1
        ? list[0]
        : undefined
      : list.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!found) throw new Error(`no manifest for tag ${tag ?? '(only)'} in ${dir}/index.json`);
  return found.digest;
}

/** Reads a blob of an OCI layout. */
export function readLayoutBlob(dir: string, digest: string): Buffer {
  const [alg, hex] = digest.split(':');
  return readFileSync(join(dir, 'blobs', alg ?? 'sha256', hex ?? ''));
}
