/**
 * Purser as a fastify plugin (`import purserFastify from 'purser/fastify'`):
 *
 * ```ts
 * await app.register(purserFastify, { purser, prefix: '/auth' });
 * ```
 *
 * fastify is not a dependency: only its types are used.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { Purser } from './create-purser.js';

/** Purser reads at most this much of a token request's body (as the standalone server). */
const MAX_FORM_BYTES = 64 * 1024;

export interface PurserFastifyOptions {
  purser: Purser;
}

/**
 * Routes everything under the plugin's prefix to `purser.handler` through
 * `reply.hijack()`. Inside the plugin's own context, bodies are read as text (any content
 * type) and handed to Purser as `req.body`, since fastify has consumed the stream.
 */
export const purserFastify: FastifyPluginAsync<PurserFastifyOptions> = async (app, { purser }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_req, body, done) =>
    done(null, body),
  );
  app.all('/*', (request, reply) => {
    reply.hijack();
    if (request.body !== undefined) (request.raw as IncomingMessage & { body?: unknown }).body = request.body;
    purser.handler(request.raw, reply.raw);
  });
};

export default purserFastify;
