import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { isPurserError } from '../../../src/core/errors.js';
import {
  digestLike,
  existingTagDigest,
  MAX_MANIFEST_BYTES,
  ManifestBuffers,
} from '../../../src/proxy/immutable-tag.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('existingTagDigest', () => {
  let server: Server;
  let pool: Pool;
  const seen: { accept?: string; authorization?: string }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ accept: req.headers.accept, authorization: req.headers.authorization });
      const tag = req.url!.split('/').pop();
      if (tag === 'here') res.writeHead(200, { 'docker-content-digest': DIGEST }).end();
      else if (tag === 'gone') res.writeHead(404).end();
      else if (tag === 'nodigest') res.writeHead(200).end();
      else res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await pool.close();
    await new Promise((r) => server.close(r));
  });

  test('200 gives the digest, 404 nothing; credentials and every manifest type are sent', async () => {
    assert.equal(await existingTagDigest(pool, '/v2/a/manifests/here', 'Bearer t'), DIGEST);
    assert.equal(await existingTagDigest(pool, '/v2/a/manifests/gone', undefined), undefined);
    assert.equal(seen[0]?.authorization, 'Bearer t');
    assert.match(seen[0]?.accept ?? '', /vnd\.oci\.image\.index\.v1\+json.*manifest\.list\.v2\+json/);
  });

  test('any other answer fails closed with 503', async () => {
    for (const tag of ['broken', 'nodigest'])
      await assert.rejects(
        existingTagDigest(pool, `/v2/a/manifests/${tag}`, undefined),
        (e) => isPurserError(e) && e.status === 503,
      );
  });
});

describe('ManifestBuffers', () => {
  const body = (chunks: Buffer[], length?: number): IncomingMessage => {
    const r = Readable.from(chunks) as unknown as IncomingMessage;
    (r as { headers: Record<string, string> }).headers =
      length === undefined ? {} : { 'content-length': String(length) };
    return r;
  };

  test('reads the body, counts it until released', async () => {
    const m = new ManifestBuffers();
    let release: (() => void) | undefined;
    const got = await m.read(body([Buffer.from('ab'), Buffer.from('cd')]), (r) => {
      release = r;
    });
    assert.equal(got.toString(), 'abcd');
    assert.equal(m.held, 4);
    release!();
    release!();
    assert.equal(m.held, 0);
  });

  test('a body over 4 MiB is 400, declared or not; the shared budget is 503', async () => {
    const m = new ManifestBuffers(10);
    await assert.rejects(
      m.read(body([], MAX_MANIFEST_BYTES + 1), () => {}),
      (e) => isPurserError(e) && e.status === 400,
    );
    await assert.rejects(
      new ManifestBuffers().read(body([Buffer.alloc(MAX_MANIFEST_BYTES), Buffer.alloc(1)]), () => {}),
      (e) => isPurserError(e) && e.status === 400,
    );
    let free = () => {};
    await m.read(body([Buffer.alloc(8)]), (r) => {
      free = r;
    });
    await assert.rejects(
      m.read(body([Buffer.alloc(8)]), () => {}),
      (e) => isPurserError(e) && e.status === 503,
    );
    free();
  });

  test('digestLike hashes with the algorithm of the existing digest', () => {
    assert.equal(
      digestLike(DIGEST, Buffer.from('')),
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    assert.match(digestLike(`sha512:${'0'.repeat(128)}`, Buffer.from('')), /^sha512:[a-f0-9]{128}$/);
  });
});
