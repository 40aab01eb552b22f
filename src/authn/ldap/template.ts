import { lazyModule } from '../../util/lazy-module.js';

// Loaded at the first filter (a config with ldap:), not with every config.
const ldapts = lazyModule<typeof import('ldapts')>('ldapts');

/**
 * Placeholders in configured LDAP strings. Every value is escaped for where it goes, so a
 * username such as `*)(uid=*` is a literal, never filter syntax (RFC 4515) or a second RDN
 * (RFC 4514).
 */
export type TemplateValues = Readonly<Partial<Record<'username' | 'dn', string>>>;

const PLACEHOLDER = /\{(username|dn)\}/g;

/** RFC 4515 §3: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`. */
export function escapeFilterValue(value: string): string {
  return ldapts().Filter.escape(value);
}

/**
 * RFC 4514 §2.4: `"+,;<>\` and NUL anywhere, `#` or a space first, a space last are
 * escaped with a backslash (NUL as `\00`), so a value stays one attribute value.
 */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\0') out += '\\00';
    else if ('"+,;<>\\='.includes(c)) out += `\\${c}`;
    else if ((i === 0 && (c === '#' || c === ' ')) || (i === value.length - 1 && c === ' ')) out += `\\${c}`;
    else out += c;
  }
  return out;
}

/** A filter with its placeholders replaced by escaped values. */
export function fillFilter(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (m, k: 'username' | 'dn') => {
    const v = values[k];
    return v === undefined ? m : escapeFilterValue(v);
  });
}

/** A DN template (`uid={username},ou=people,…`) with `{username}` replaced, DN-escaped. */
export function fillDn(template: string, username: string): string {
  return template.replace(/\{username\}/g, () => escapeDnValue(username));
}

/** The placeholders a template uses. */
export function placeholders(template: string): Set<string> {
  return new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!));
}

/** Parses a filled filter (RFC 4515) with ldapts; throws its error for one that is not valid. */
export function parseLdapFilter(filter: string): void {
  ldapts().FilterParser.parseString(filter);
}
