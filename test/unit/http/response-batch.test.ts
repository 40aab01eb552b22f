// ResponseBatch (http/response-batch.ts): responses ended in one turn are written when the
// turn's immediates run, or at once when `max` are held; each gets exactly its own status,
// headers and body; one answered elsewhere, destroyed, or unwritable is left alone and does
// not keep the others from theirs.
import assert from 'node:assert/strict';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ResponseBatch } from '../../../src/http/response-batch.js';

/** A server that hands each request's response to `waiting` and answers nothing itself. */
async function holdingServer(): Promise<{
  s: Server;
  port: number;
  next: (n: number) => Promise<ServerResponse[]>;
}> {
  const held: ServerResponse[] = [];
  let wake: (() => void) | undefined;
  const s = createServer((_req, res) => {
    held.push(res);
    wake?.();
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const next = async (n: number): Promise<ServerResponse[]> => {
    while (held.length < n) await new Promise<void>((r) => (wake = r));
    return held.splice(0, n);
  };
  return { s, port: (s.address() as AddressInfo).port, next };
}

interface Got {
  status: number;
  type: string | undefined;
  body: string;
  error?: string;
}
function get(port: number, path: string, agent: Agent): Promise<Got> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', (e) => resolve({ status: 0, type: undefined, body: '', error: e.message }));
    req.end();
  });
}
const turn = () => new Promise<void>((r) => setImmediate(r));

test('responses ended in one turn are written together when it ends, each with its own answer', async () => {
  const { s, port, next } = await holdingServer();
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const batch = new ResponseBatch(() => 16);
    const answers = Array.from({ length: 8 }, (_, i) => get(port, `/r${i}`, agent));
    const held = await next(8);
    held.forEach((res, i) => {
      batch.end(
        res,
        200 + (i % 4),
        { 'content-type': `text/x-${i}` },
        `body ${(res.req as IncomingMessage).url}`,
      );
    });
    assert.ok(
      held.every((res) => !res.headersSent),
      'nothing is written within the turn',
    );
    assert.ok(held.every((res) => batch.holds(res)));
    await turn();
    assert.ok(
      held.every((res) => res.writableEnded),
      'all are ended once the turn is over',
    );
    assert.ok(!held.some((res) => batch.holds(res)));
    const got = await Promise.all(answers);
    const byPath = new Map(held.map((res, i) => [(res.req as IncomingMessage).url, i]));
    for (const [j, g] of got.entries()) {
      const i = byPath.get(`/r${j}`)!;
      assert.deepEqual(g, { status: 200 + (i % 4), type: `text/x-${i}`, body: `body /r${j}` });
    }
  } finally {
    agent.destroy();
    s.close();
  }
});

test('max held responses are written at once; max 1 writes each as it comes', async () => {
  const { s, port, next } = await holdingServer();
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    let max = 3;
    const batch = new ResponseBatch(() => max);
    const answers = Array.from({ length: 5 }, (_, i) => get(port, `/m${i}`, agent));
    const held = await next(5);
    batch.end(held[0]!, 200, {}, 'a');
    batch.end(held[1]!, 200, {}, 'b');
    assert.ok(!held[0]!.headersSent && !held[1]!.headersSent);
    batch.end(held[2]!, 200, {}, 'c');
    assert.ok(
      held.slice(0, 3).every((res) => res.writableEnded),
      'the third fills the batch: all three written',
    );
    max = 1;
    batch.end(held[3]!, 200, {}, 'd');
    assert.ok(held[3]!.writableEnded, 'max 1: written at once');
    batch.end(held[4]!, 200, {}, 'e');
    assert.ok(held[4]!.writableEnded);
    const bodies = (await Promise.all(answers)).map((g) => g.body).sort();
    assert.deepEqual(bodies, ['a', 'b', 'c', 'd', 'e']);
  } finally {
    agent.destroy();
    s.close();
  }
});

test('a response answered elsewhere, destroyed or unwritable is left alone; the others are written', async () => {
  const { s, port, next } = await holdingServer();
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const batch = new ResponseBatch(() => 16);
    const answers = Array.from({ length: 4 }, (_, i) => get(port, `/x${i}`, agent));
    const held = await next(4);
    const [answered, destroyed, unwritable, fine] = held as [
      ServerResponse,
      ServerResponse,
      ServerResponse,
      ServerResponse,
    ];
    batch.end(answered, 200, {}, 'batched');
    batch.end(destroyed, 200, {}, 'batched');
    batch.end(unwritable, 200, { 'x-bad': 'a\nb' }, 'batched');
    batch.end(fine, 201, { 'content-type': 'text/plain' }, 'fine');
    // The first answer wins, as with res.end itself.
    answered.writeHead(503, { 'content-type': 'text/plain' }).end('first');
    destroyed.destroy();
    await turn();
    const got = new Map(
      (await Promise.all(answers)).map((g, i) => [
        held.findIndex((r) => (r.req as IncomingMessage).url === `/x${i}`),
        g,
      ]),
    );
    assert.deepEqual(got.get(0), { status: 503, type: 'text/plain', body: 'first' });
    assert.equal(got.get(1)?.status, 0, 'the destroyed one has no answer');
    assert.equal(got.get(2)?.status, 0, 'the unwritable one loses its connection');
    assert.ok(unwritable.destroyed);
    assert.deepEqual(got.get(3), { status: 201, type: 'text/plain', body: 'fine' });
  } finally {
    agent.destroy();
    s.close();
  }
});
