import type { IncomingMessage, ServerResponse } from 'node:http';
import { PurserError } from '../core/errors.js';
import { writeError } from '../http/error-response.js';
import type { Runtime } from '../runtime/runtime.js';
import type { TokenHttpServer } from '../server/http.js';

/**
 * A node:http request handler, also usable as express/connect middleware: with `next`, a
 * path that is not Purser's is passed on instead of answered 404.
 */
export type PurserHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void;

/** The routes the token server answers; a mounted handler matches them as path suffixes. */
export const ROUTES = ['/token', '/.well-known/jwks.json', '/healthz', '/readyz', '/metrics'] as const;

/** The route a path ends with: `/auth/token` and `/token` are both the token endpoint. */
export function routeOf(path: string): string | undefined {
  return ROUTES.find((r) => path === r || path.endsWith(r));
}

/**
 * Mountable under any prefix: express strips its mount path from `req.url`, a plain
 * node:http server passes the full path; either way the route is the path's known suffix.
 * Work runs on the runtime's state current when the request starts, so a reload never
 * cuts a request off; after close() everything but /healthz and /readyz is 503.
 */
export function mountableHandler(server: TokenHttpServer, runtime: Runtime): PurserHandler {
  return (req, res, next) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = routeOf(path);
    if (route === undefined && next) return next();
    if (runtime.closed && route !== '/healthz' && route !== '/readyz') {
      writeError(res, new PurserError('UNAVAILABLE', 'the token server is shutting down'), {
        realm: runtime.state.realm,
        oauth: req.method === 'POST',
      });
      return;
    }
    const leave = runtime.enter();
    res.once('close', leave);
    // An unknown path goes through as it is, to be answered 404 like the standalone server.
    server.dispatch(req, res, route === undefined ? url : route + (q < 0 ? '' : url.slice(q)));
  };
}
