// GitLab CI: a JWT the job declares under `id_tokens`, in a variable it names.
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';

export function readGitlabToken(env: Env, variable: string): string {
  const v = env[variable]?.trim();
  if (!v) {
    throw new HelperError(
      'SOURCE_UNAVAILABLE',
      `GitLab ID token variable ${variable} is not set: declare it in the job's id_tokens (e.g. id_tokens: { ${variable}: { aud: <audience> } })`,
    );
  }
  return v;
}
