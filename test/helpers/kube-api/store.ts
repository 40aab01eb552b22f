// A typed in-memory object store, one per resource, with one revision counter across all of
// them (etcd's): every write stamps `metadata.resourceVersion`, appends to the resource's event
// log (bounded; older revisions are "compacted" and a watch from them gets 410 Gone), and tells
// the resource's watchers. Optimistic concurrency, uids, owner-reference garbage collection and
// generateName behave as the API server's do.
import { randomBytes, randomUUID } from 'node:crypto';
import { PATCH_TYPES } from './patch.js';
import { apiVersionOf, RESOURCES, type ResourceDef, resourceKey } from './resources.js';
import type { Matcher } from './selectors.js';
import { apiError, type KubeObject, type WatchEventType } from './types.js';

export interface StoredEvent {
  readonly rv: number;
  readonly type: Exclude<WatchEventType, 'BOOKMARK' | 'ERROR'>;
  readonly object: KubeObject;
}

export type StoreListener = (e: StoredEvent) => void;

/** Events kept per resource for watches to resume from. */
const LOG_LIMIT = 1000;

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const rfc3339 = (d = new Date()): string => `${d.toISOString().slice(0, 19)}Z`;

export class ResourceStore {
  readonly objects = new Map<string, KubeObject>();
  readonly log: StoredEvent[] = [];
  /** A watch from a revision below this one gets 410 Gone. */
  compactedRev = 0;
  readonly listeners = new Set<StoreListener>();
  constructor(readonly def: ResourceDef) {}
}

export class ObjectStore {
  #rev = 0;
  readonly #resources = new Map<string, ResourceStore>();

  constructor() {
    for (const r of RESOURCES) this.#resources.set(resourceKey(r), new ResourceStore(r));
  }

  /** The store's current revision (the list resourceVersion). */
  get revision(): number {
    return this.#rev;
  }

  /** By key: `secrets`, `serviceaccounts`, `leases.coordination.k8s.io`, `events.events.k8s.io`. */
  resource(key: string): ResourceStore {
    const r = this.#resources.get(key);
    if (!r) throw new Error(`the kube-api double does not serve ${key}`);
    return r;
  }

  static #id(ns: string | undefined, name: string): string {
    return `${ns ?? ''}/${name}`;
  }

  get<T extends KubeObject = KubeObject>(key: string, ns: string | undefined, name: string): T | undefined {
    const o = this.resource(key).objects.get(ObjectStore.#id(ns, name));
    return o ? (structuredClone(o) as T) : undefined;
  }

  #mustGet(r: ResourceStore, ns: string | undefined, name: string): KubeObject {
    const o = r.objects.get(ObjectStore.#id(ns, name));
    if (!o)
      throw apiError(404, 'NotFound', `${r.def.plural} "${name}" not found`, {
        name,
        kind: r.def.plural,
        group: r.def.group,
      });
    return o;
  }

  list<T extends KubeObject = KubeObject>(
    key: string,
    ns?: string,
    labels: Matcher = () => true,
    fields: Matcher = () => true,
  ): { items: T[]; resourceVersion: string } {
    const items = [...this.resource(key).objects.values()]
      .filter((o) => (ns === undefined || o.metadata.namespace === ns) && labels(o) && fields(o))
      .sort((a, b) =>
        ObjectStore.#id(a.metadata.namespace, a.metadata.name!).localeCompare(
          ObjectStore.#id(b.metadata.namespace, b.metadata.name!),
        ),
      );
    return { items: structuredClone(items) as T[], resourceVersion: String(this.#rev) };
  }

  #commit(r: ResourceStore, type: StoredEvent['type'], obj: KubeObject): KubeObject {
    const rv = ++this.#rev;
    const id = ObjectStore.#id(obj.metadata.namespace, obj.metadata.name!);
    obj.metadata.resourceVersion = String(rv);
    if (type === 'DELETED') r.objects.delete(id);
    else r.objects.set(id, obj);
    const e: StoredEvent = { rv, type, object: structuredClone(obj) };
    r.log.push(e);
    if (r.log.length > LOG_LIMIT) r.compactedRev = r.log.shift()!.rv;
    for (const l of [...r.listeners]) l(e);
    return structuredClone(obj);
  }

  #normalise(r: ResourceDef, ns: string | undefined, obj: KubeObject): void {
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    if (r.namespaced) obj.metadata.namespace = ns;
    else delete obj.metadata.namespace;
  }

  create<T extends KubeObject = KubeObject>(key: string, ns: string | undefined, body: unknown): T {
    const r = this.resource(key);
    const obj = structuredClone(body) as KubeObject;
    if (!obj || typeof obj !== 'object' || !obj.metadata || typeof obj.metadata !== 'object')
      throw apiError(400, 'BadRequest', 'the body has no metadata');
    if (r.def.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns)
      throw apiError(
        400,
        'BadRequest',
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = `${obj.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    const name = obj.metadata.name;
    if (!name || !NAME.test(name) || name.length > 253)
      throw apiError(
        422,
        'Invalid',
        `${r.def.kind} "${name ?? ''}" is invalid: metadata.name: Invalid value`,
      );
    if (r.objects.has(ObjectStore.#id(ns, name)))
      throw apiError(409, 'AlreadyExists', `${r.def.plural} "${name}" already exists`, {
        name,
        kind: r.def.plural,
      });
    this.#normalise(r.def, ns, obj);
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = rfc3339();
    return this.#commit(r, 'ADDED', obj) as T;
  }

  /** PUT: a stale `metadata.resourceVersion` is a 409 Conflict (an absent one is an unconditional update). */
  replace<T extends KubeObject = KubeObject>(
    key: string,
    ns: string | undefined,
    name: string,
    body: unknown,
  ): T {
    const r = this.resource(key);
    const cur = this.#mustGet(r, ns, name);
    const obj = structuredClone(body) as KubeObject;
    if (!obj?.metadata || obj.metadata.name !== name)
      throw apiError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    return this.#update(r, cur, obj) as T;
  }

  #update(r: ResourceStore, cur: KubeObject, obj: KubeObject): KubeObject {
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== cur.metadata.resourceVersion)
      throw apiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${r.def.plural} "${cur.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name: cur.metadata.name, kind: r.def.plural },
      );
    this.#normalise(r.def, cur.metadata.namespace, obj);
    obj.metadata.name = cur.metadata.name;
    obj.metadata.uid = cur.metadata.uid;
    obj.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    return this.#commit(r, 'MODIFIED', obj);
  }

  patch<T extends KubeObject = KubeObject>(
    key: string,
    ns: string | undefined,
    name: string,
    contentType: string,
    body: unknown,
  ): T {
    const r = this.resource(key);
    const apply = PATCH_TYPES[contentType as keyof typeof PATCH_TYPES];
    if (!apply)
      throw apiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).join(', ')}`,
      );
    const cur = this.#mustGet(r, ns, name);
    const next = apply(cur, body) as KubeObject;
    if (!next?.metadata) throw apiError(422, 'Invalid', 'the patch removed metadata');
    // A patch that names no resourceVersion applies to the current one (the server's way).
    if (!next.metadata.resourceVersion) next.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.#update(r, cur, next) as T;
  }

  delete<T extends KubeObject = KubeObject>(key: string, ns: string | undefined, name: string): T {
    const r = this.resource(key);
    const cur = this.#mustGet(r, ns, name);
    const gone = this.#commit(r, 'DELETED', structuredClone(cur));
    this.#collectDependents(cur);
    return gone as T;
  }

  /** The garbage collector: objects whose every owner is gone go too. */
  #collectDependents(owner: KubeObject): void {
    const uid = owner.metadata.uid;
    for (const r of this.#resources.values()) {
      for (const o of [...r.objects.values()]) {
        const refs = o.metadata.ownerReferences ?? [];
        if (!refs.some((ref) => ref.uid === uid)) continue;
        if (refs.every((ref) => ref.uid === uid || !this.#uidExists(ref.uid)))
          this.delete(resourceKey(r.def), o.metadata.namespace, o.metadata.name!);
      }
    }
  }

  #uidExists(uid: string): boolean {
    for (const r of this.#resources.values())
      for (const o of r.objects.values()) if (o.metadata.uid === uid) return true;
    return false;
  }

  /** Forgets the event log of a resource (or all): a watch from any earlier revision gets 410. */
  compact(key?: string): void {
    const targets = key ? [this.resource(key)] : [...this.#resources.values()];
    for (const r of targets) {
      r.log.length = 0;
      r.compactedRev = this.#rev;
    }
  }
}
