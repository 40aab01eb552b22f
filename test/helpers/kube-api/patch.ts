// The three patch types client-node sends (its PatchStrategy): RFC 6902 JSON patch, RFC 7386
// merge patch, and a strategic merge patch for the lists the double's resources have (merged by
// their patchMergeKey, with `$patch: delete|replace` directives). Server-side apply is not served.
import { apiError } from './types.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

function invalid(message: string): never {
  throw apiError(422, 'Invalid', message);
}

/** RFC 6901 pointer → parent container and last key. */
function locate(doc: Json, pointer: string): { parent: Json; key: string } {
  if (pointer === '') invalid('the whole-document pointer is not supported');
  if (!pointer.startsWith('/')) invalid(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  const parts = pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const key = parts.pop()!;
  let parent: Json = doc;
  for (const p of parts) {
    const next: Json | undefined = Array.isArray(parent)
      ? parent[Number(p)]
      : isObject(parent)
        ? parent[p]
        : undefined;
    if (next === undefined) invalid(`doc is missing path: ${pointer}`);
    parent = next;
  }
  return { parent, key };
}

function getAt(doc: Json, pointer: string): Json {
  const { parent, key } = locate(doc, pointer);
  const v = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined;
  if (v === undefined) invalid(`doc is missing path: ${pointer}`);
  return v;
}

function removeAt(doc: Json, pointer: string): Json {
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) invalid(`doc is missing path: ${pointer}`);
    return parent.splice(i, 1)[0]!;
  }
  if (!isObject(parent) || !(key in parent)) invalid(`doc is missing path: ${pointer}`);
  const v = parent[key]!;
  delete parent[key];
  return v;
}

function addAt(doc: Json, pointer: string, value: Json, replace: boolean): void {
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (replace && i === parent.length))
      invalid(`doc is missing path: ${pointer}`);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
    return;
  }
  if (!isObject(parent)) invalid(`doc is missing path: ${pointer}`);
  if (replace && !(key in parent)) invalid(`doc is missing path: ${pointer}`);
  parent[key] = value;
}

export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) invalid('a JSON patch is an array of operations');
  const doc = clone(target) as Json;
  for (const op of ops as JsonObject[]) {
    const path = typeof op.path === 'string' ? op.path : invalid('a JSON patch operation needs a path');
    switch (op.op) {
      case 'add':
        addAt(doc, path, clone(op.value as Json), false);
        break;
      case 'replace':
        addAt(doc, path, clone(op.value as Json), true);
        break;
      case 'remove':
        removeAt(doc, path);
        break;
      case 'move':
        addAt(doc, path, removeAt(doc, String(op.from)), false);
        break;
      case 'copy':
        addAt(doc, path, clone(getAt(doc, String(op.from))), false);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(op.value))
          invalid(`testing value ${path} failed`);
        break;
      default:
        invalid(`unknown JSON patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v) as Json;
  }
  return out;
}

/** patchMergeKey of the lists the served resources have (k8s.io/api's struct tags). */
const MERGE_KEYS: Record<string, string> = {
  imagePullSecrets: 'name',
  secrets: 'name',
  ownerReferences: 'uid',
  containers: 'name',
  env: 'name',
  volumes: 'name',
};

export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    const mergeKey = MERGE_KEYS[k];
    if (v === null) delete out[k];
    else if (mergeKey && Array.isArray(v)) out[k] = mergeList(out[k], v, mergeKey);
    else if (isObject(v)) out[k] = applyStrategicMergePatch(out[k], v) as Json;
    else out[k] = clone(v);
  }
  return out;
}

function mergeList(current: Json | undefined, patch: Json[], key: string): Json[] {
  if (patch.some((p) => isObject(p) && p.$patch === 'replace'))
    return clone(patch.filter((p) => !(isObject(p) && p.$patch === 'replace')));
  const out: Json[] = Array.isArray(current) ? clone(current) : [];
  for (const item of patch) {
    if (!isObject(item) || !(key in item)) invalid(`a ${key}-keyed list item lacks ${key}`);
    const at = out.findIndex((o) => isObject(o) && o[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) out[at] = applyStrategicMergePatch(out[at], item) as Json;
    else out.push(clone(item));
  }
  return out;
}

export const PATCH_TYPES = {
  'application/json-patch+json': applyJsonPatch,
  'application/merge-patch+json': applyMergePatch,
  'application/strategic-merge-patch+json': applyStrategicMergePatch,
} as const;
