// `?watch=true` streams: newline-delimited JSON events. From resourceVersion '' or '0' the
// stream starts with a synthetic ADDED per matching object (the API server's way); from a
// revision it replays the log after it, or — the revision being compacted — sends an ERROR
// event with a 410 Status and closes. An object that stops (starts) matching the selector is
// sent as DELETED (ADDED), as the watch cache does.
import type { ServerResponse } from 'node:http';
import { apiVersionOf } from './resources.js';
import type { Matcher } from './selectors.js';
import type { ResourceStore, StoredEvent } from './store.js';
import { type KubeObject, type Status, status, type WatchEvent } from './types.js';

export interface WatchStream {
  readonly resource: string;
  readonly namespace: string | undefined;
  /** Sends an event as is. */
  send(e: WatchEvent): void;
  /** A BOOKMARK at the given revision (the current one by default). */
  bookmark(rv: number): void;
  /** Ends the response cleanly (the client sees a closed stream and re-watches). */
  end(): void;
  /** Destroys the socket mid-stream. */
  drop(): void;
  readonly closed: boolean;
}

export interface WatchParams {
  key: string;
  r: ResourceStore;
  namespace: string | undefined;
  labels: Matcher;
  fields: Matcher;
  resourceVersion: string;
  timeoutSeconds: number | undefined;
}

export function tooOld(rv: string): Status {
  return status(410, 'Expired', `too old resource version: ${rv}`);
}

export function openWatch(
  res: ServerResponse,
  p: WatchParams,
  onClose: (w: WatchStream) => void,
): WatchStream {
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
  let closed = false;
  const matches = (o: KubeObject) =>
    (p.namespace === undefined || o.metadata.namespace === p.namespace) && p.labels(o) && p.fields(o);
  /** What this watcher last saw of each object, to turn selector transitions into ADDED/DELETED. */
  const seen = new Set<string>();
  const id = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const w: WatchStream = {
    resource: p.key,
    namespace: p.namespace,
    get closed() {
      return closed;
    },
    send(e) {
      if (!closed) res.write(`${JSON.stringify(e)}\n`);
    },
    bookmark(rv) {
      w.send({
        type: 'BOOKMARK',
        object: {
          kind: p.r.def.kind,
          apiVersion: apiVersionOf(p.r.def),
          metadata: { resourceVersion: String(rv) },
        },
      });
    },
    end() {
      if (closed) return;
      res.end();
      finish();
    },
    drop() {
      if (closed) return;
      res.socket?.destroy();
      finish();
    },
  };
  const deliver = (e: StoredEvent) => {
    const now = e.type !== 'DELETED' && matches(e.object);
    const before = seen.has(id(e.object));
    if (now) seen.add(id(e.object));
    else seen.delete(id(e.object));
    if (e.type === 'DELETED') {
      if (before) w.send({ type: 'DELETED', object: e.object });
    } else if (now) w.send({ type: before ? e.type : 'ADDED', object: e.object });
    else if (before) w.send({ type: 'DELETED', object: e.object });
  };
  const finish = () => {
    if (closed) return;
    closed = true;
    p.r.listeners.delete(deliver);
    clearTimeout(timer);
    onClose(w);
  };
  const timer = p.timeoutSeconds ? setTimeout(() => w.end(), p.timeoutSeconds * 1000) : undefined;
  res.on('close', finish);

  const rv = p.resourceVersion;
  if (rv === '' || rv === '0') {
    for (const o of p.r.objects.values())
      if (matches(o)) {
        seen.add(id(o));
        w.send({ type: 'ADDED', object: structuredClone(o) });
      }
  } else {
    const from = Number(rv);
    if (!Number.isInteger(from) || from < 0) {
      w.send({ type: 'ERROR', object: status(400, 'BadRequest', `invalid resource version "${rv}"`) });
      w.end();
      return w;
    }
    if (from < p.r.compactedRev) {
      w.send({ type: 'ERROR', object: tooOld(rv) });
      w.end();
      return w;
    }
    // The objects matching at `from` are those matching now minus what changed since: rebuild
    // them from the current set and the log, so replayed transitions come out right.
    const later = p.r.log.filter((e) => e.rv > from);
    const changed = new Set(later.map((e) => id(e.object)));
    for (const o of p.r.objects.values()) if (!changed.has(id(o)) && matches(o)) seen.add(id(o));
    for (const e of later) {
      const firstForObject = later.find((x) => id(x.object) === id(e.object)) === e;
      // The object's state before its first later event is unknown to the log; an ADDED first
      // means it did not exist; otherwise treat it as having matched (a MODIFIED is sent).
      if (firstForObject && e.type !== 'ADDED') seen.add(id(e.object));
      deliver(e);
    }
  }
  if (!closed) p.r.listeners.add(deliver);
  return w;
}
