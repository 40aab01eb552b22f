// `auto`: the source the environment offers, checked in a fixed order.
import { statSync } from 'node:fs';
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';
import { GITHUB_PERMISSION_HINT } from './github.js';
import type { ResolvedSource, Source } from './source.js';

/** The source to use: `auto` resolved against the environment. */
export function resolveSource(source: Source, env: Env): ResolvedSource {
  if (source.type !== 'auto') return source;
  if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return { type: 'github' };
  if (env[source.variable]) return { type: 'gitlab', variable: source.variable };
  let hasFile = false;
  try {
    hasFile = statSync(source.path).isFile();
  } catch {
    hasFile = false;
  }
  if (hasFile) return { type: 'kubernetes', path: source.path };
  const why = [
    env.GITHUB_ACTIONS === 'true'
      ? `GitHub Actions: ${GITHUB_PERMISSION_HINT}`
      : 'not GitHub Actions (no ACTIONS_ID_TOKEN_REQUEST_URL)',
    env.GITLAB_CI === 'true'
      ? `GitLab CI: no ${source.variable} variable (declare it in the job's id_tokens)`
      : `not GitLab CI (no ${source.variable} variable)`,
    `no Kubernetes token file ${source.path}`,
  ];
  throw new HelperError('SOURCE_UNAVAILABLE', `no token source available: ${why.join('; ')}`);
}
