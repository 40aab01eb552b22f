import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { RegistryRefusal } from '../../../src/core/errors.js';
import {
  CATALOG_MAX_ENTRIES,
  type CatalogSource,
  CursorSeal,
  catalogLink,
  filteredCatalog,
  parseCatalogQuery,
  type UpstreamPage,
} from '../../../src/proxy/catalog.js';
import { parseGoQuery } from '../../../src/proxy/go-query.js';

const seal = new CursorSeal(randomBytes(32));

/** An upstream catalog as distribution pages it: names after `last`, a Link while more remain. */
function upstream(all: string[], permittedNames: (n: string) => boolean) {
  const calls: { last: string | undefined; n: number }[] = [];
  const asked: string[] = [];
  const source: CatalogSource = {
    async fetchPage(last, n): Promise<UpstreamPage> {
      calls.push({ last, n });
      const rest = all.filter((x) => last === undefined || x > last);
      return { names: rest.slice(0, n), more: rest.length > n };
    },
    async permitted(names) {
      asked.push(...names);
      return names.map(permittedNames);
    },
  };
  return { source, calls, asked };
}

const query = (q: string) => parseCatalogQuery(parseGoQuery(q), seal);

describe('parseCatalogQuery (distribution 2.8.2 semantics)', () => {
  test('n as strconv.Atoi reads it: junk, negative or overflowing means the maximum', () => {
    assert.deepEqual(query('n=2'), { n: 2, last: undefined });
    assert.deepEqual(query('n=%2B7'), { n: 7, last: undefined });
    assert.deepEqual(query('n=0'), { n: 0, last: undefined });
    assert.deepEqual(query('n=1&n=999'), { n: 1, last: undefined });
    for (const junk of ['', 'n=', 'n=abc', 'n=-1', 'n=1e3', 'n=%201', 'n=99999999999999999999', 'n=0x10'])
      assert.equal(query(junk).n, CATALOG_MAX_ENTRIES, junk);
    assert.equal(query(`n=${CATALOG_MAX_ENTRIES}`).n, CATALOG_MAX_ENTRIES);
  });

  test('n over the maximum is 400 PAGINATION_NUMBER_INVALID', () => {
    assert.throws(
      () => query(`n=${CATALOG_MAX_ENTRIES + 1}`),
      (e) =>
        e instanceof RegistryRefusal && e.status === 400 && e.registryCode === 'PAGINATION_NUMBER_INVALID',
    );
  });

  test('last: plain names pass through, sealed cursors open, forged or long ones are 400', () => {
    assert.equal(query('last=team%2Fa').last, 'team/a');
    assert.equal(query('last=').last, undefined);
    assert.equal(query(`last=${seal.seal('hidden/name')}`).last, 'hidden/name');
    const other = new CursorSeal(randomBytes(32)).seal('hidden/name');
    for (const bad of [`last=${other}`, 'last=~', 'last=~AAAA', `last=${'a'.repeat(1025)}`])
      assert.throws(
        () => query(bad),
        (e) => e instanceof RegistryRefusal && e.status === 400,
        bad,
      );
  });
});

describe('filteredCatalog', () => {
  const ALL = ['alpha', 'other/x', 'team/one', 'team/three', 'team/two', 'team/zz', 'zeta'];
  const team = (n: string) => n.startsWith('team/');

  test('collects n permitted names across upstream pages, with the Link distribution would send', async () => {
    const u = upstream(ALL, team);
    const p1 = await filteredCatalog({ n: 2, last: undefined }, u.source, seal, { pageSize: 2 });
    assert.deepEqual(p1, { repositories: ['team/one', 'team/three'], link: catalogLink('team/three', 2) });
    assert.deepEqual(u.calls, [
      { last: undefined, n: 2 },
      { last: 'other/x', n: 2 },
    ]);
    const p2 = await filteredCatalog({ n: 2, last: 'team/three' }, u.source, seal, { pageSize: 2 });
    assert.deepEqual(p2, { repositories: ['team/two', 'team/zz'], link: catalogLink('team/zz', 2) });
    const p3 = await filteredCatalog({ n: 2, last: 'team/zz' }, u.source, seal, { pageSize: 2 });
    assert.deepEqual(p3, { repositories: [], link: undefined });
    // Hidden names are asked about, never shown.
    assert.ok(u.asked.includes('other/x'));
  });

  test('the last page of the upstream ends without a Link, even when exactly n fill it', async () => {
    const u = upstream(['a', 'b'], () => true);
    assert.deepEqual(await filteredCatalog({ n: 2, last: undefined }, u.source, seal, { pageSize: 2 }), {
      repositories: ['a', 'b'],
      link: undefined,
    });
    assert.deepEqual(await filteredCatalog({ n: 1, last: undefined }, u.source, seal), {
      repositories: ['a'],
      link: catalogLink('a', 1),
    });
  });

  test('the page budget bounds upstream work; a hidden boundary is continued from a sealed cursor', async () => {
    const hidden = Array.from({ length: 50 }, (_, i) => `secret/r${String(i).padStart(2, '0')}`);
    const u = upstream(['aa/visible', ...hidden, 'zz/visible'], (n) => n.endsWith('/visible'));
    const first = await filteredCatalog({ n: 5, last: undefined }, u.source, seal, {
      pageSize: 3,
      maxPages: 4,
    });
    assert.equal(u.calls.length, 4);
    assert.deepEqual(first.repositories, ['aa/visible']);
    const cursor = /last=([^&]+)&n=5>; rel="next"$/.exec(first.link!)![1]!;
    assert.ok(cursor.startsWith('~'), 'sealed');
    assert.doesNotMatch(first.link!, /secret/);
    // Following the cursors reaches the end, without ever showing a hidden name.
    const seen = [...first.repositories];
    let link = first.link;
    for (let i = 0; link && i < 30; i++) {
      const q = query(link.slice(link.indexOf('?') + 1, link.indexOf('>')));
      const page = await filteredCatalog(q, u.source, seal, { pageSize: 3, maxPages: 4 });
      seen.push(...page.repositories);
      link = page.link;
    }
    assert.deepEqual(seen, ['aa/visible', 'zz/visible']);
    assert.equal(link, undefined);
  });

  test('names that are not repository names, repeats and pages that do not move on are dropped', async () => {
    let calls = 0;
    const source: CatalogSource = {
      async fetchPage() {
        calls++;
        return { names: ['b', 'a', 'b', 'BAD', 7, 'c/../d', 'e'], more: true };
      },
      async permitted(names) {
        return names.map(() => true);
      },
    };
    const r = await filteredCatalog({ n: 10, last: undefined }, source, seal, { pageSize: 10 });
    // The second page repeats the first: nothing after the cursor, the walk ends.
    assert.equal(calls, 2);
    assert.deepEqual(r, { repositories: ['b', 'e'], link: undefined });
  });

  test('n=0 asks nothing of the upstream', async () => {
    const u = upstream(ALL, team);
    assert.deepEqual(await filteredCatalog({ n: 0, last: undefined }, u.source, seal), {
      repositories: [],
      link: undefined,
    });
    assert.equal(u.calls.length, 0);
  });

  test('Link values are QueryEscaped like Go', () => {
    assert.equal(catalogLink('team/a', 2), '</v2/_catalog?last=team%2Fa&n=2>; rel="next"');
    assert.equal(catalogLink('~Ab-_', 1), '</v2/_catalog?last=~Ab-_&n=1>; rel="next"');
  });
});
