// Placeholders in LDAP filters and DNs: a username is always a literal value (RFC 4515,
// RFC 4514), never filter syntax or another RDN.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EqualityFilter, FilterParser } from 'ldapts';
import { escapeDnValue, escapeFilterValue, fillDn, fillFilter } from '../../../src/authn/ldap/template.js';

test('filter values: the RFC 4515 specials are escaped', () => {
  assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
  assert.equal(escapeFilterValue('a\\b\0c'), 'a\\5cb\\00c');
  assert.equal(escapeFilterValue('plain.user-1'), 'plain.user-1');
});

test('an injection stays one equality on uid', () => {
  const f = FilterParser.parseString(fillFilter('(uid={username})', { username: '*)(uid=*' }));
  assert.ok(f instanceof EqualityFilter, `parsed as ${f.constructor.name}`);
  assert.equal(f.attribute, 'uid');
  assert.equal(f.value, '*)(uid=*');
  const and = fillFilter('(&(objectClass=person)(uid={username}))', { username: 'x)(|(objectClass=*' });
  assert.equal(and, '(&(objectClass=person)(uid=x\\29\\28|\\28objectClass=\\2a))');
});

test('any username fills (uid={username}) as one equality whose value is the username', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (username) => {
      const f = FilterParser.parseString(fillFilter('(uid={username})', { username }));
      assert.ok(f instanceof EqualityFilter);
      assert.equal(f.value, username);
    }),
    { numRuns: 200 },
  );
});

test('{dn} and {username} both fill a group filter; an unknown placeholder is left alone', () => {
  assert.equal(
    fillFilter('(|(member={dn})(memberUid={username})(x={other}))', { dn: 'uid=a*,ou=p', username: 'a*' }),
    '(|(member=uid=a\\2a,ou=p)(memberUid=a\\2a)(x={other}))',
  );
});

test('DN values: a comma, plus, equals or leading # cannot add an RDN or change the type', () => {
  assert.equal(escapeDnValue('alice,ou=admins'), 'alice\\,ou\\=admins');
  assert.equal(escapeDnValue('#x'), '\\#x');
  assert.equal(escapeDnValue(' a '), '\\ a\\ ');
  assert.equal(escapeDnValue('a+b;c<d>"e\\'), 'a\\+b\\;c\\<d\\>\\"e\\\\');
  assert.equal(escapeDnValue('nul\0'), 'nul\\00');
  const dn = fillDn('uid={username},ou=people,dc=example,dc=org', 'alice,ou=admins');
  assert.equal(dn, 'uid=alice\\,ou\\=admins,ou=people,dc=example,dc=org');
  // Split at unescaped commas: still four RDNs, the first one's value the whole username.
  assert.equal(dn.split(/(?<!\\),/).length, 4);
});
