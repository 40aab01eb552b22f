// labelSelector and fieldSelector as the API server reads them (apimachinery's labels/fields
// packages): requirements joined by commas; a malformed selector is a 400, never a match-all.
import { apiError, type KubeObject } from './types.js';

export type Matcher = (obj: KubeObject) => boolean;

/** Splits on commas outside parentheses (`a in (x,y),b`). */
function requirements(sel: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

function bad(kind: string, sel: string): never {
  throw apiError(400, 'BadRequest', `unable to parse requirement: invalid ${kind} selector "${sel}"`);
}

export function parseLabelSelector(sel: string | null): Matcher {
  if (!sel) return () => true;
  const tests = requirements(sel).map((r): Matcher => {
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(r);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      if (!KEY.test(key)) bad('label', sel);
      const values = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in'
        ? (o) => values.has(o.metadata.labels?.[key] as string)
        : (o) => !values.has(o.metadata.labels?.[key] as string);
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)$/.exec(r);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      if (!KEY.test(key)) bad('label', sel);
      return op === '!='
        ? (o) => o.metadata.labels?.[key] !== value
        : (o) => o.metadata.labels?.[key] === value;
    }
    m = /^(!?)([^=!\s]+)$/.exec(r);
    if (m) {
      const [, neg, key] = m as unknown as [string, string, string];
      if (!KEY.test(key)) bad('label', sel);
      return neg
        ? (o) => !(o.metadata.labels && key in o.metadata.labels)
        : (o) => !!o.metadata.labels && key in o.metadata.labels;
    }
    return bad('label', sel);
  });
  return (o) => tests.every((t) => t(o));
}

function fieldValue(obj: KubeObject, path: string): string | undefined {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? undefined : String(cur);
}

export function parseFieldSelector(sel: string | null): Matcher {
  if (!sel) return () => true;
  const tests = requirements(sel).map((r): Matcher => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(r);
    if (!m) return bad('field', sel);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    // An unset field reads as '' (the API server's field sets do the same for metadata.namespace).
    return op === '!='
      ? (o) => (fieldValue(o, path) ?? '') !== value
      : (o) => (fieldValue(o, path) ?? '') === value;
  });
  return (o) => tests.every((t) => t(o));
}
