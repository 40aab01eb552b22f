// The `purser login` GitHub Action (actions/login): gets the job's OIDC ID token for the
// registry's audience and installs docker-credential-purser for that registry in the docker
// config (or writes a plain `auths` entry); its post step removes exactly what it added.
// esbuild bundles this entry into actions/login/dist/index.mjs, which action.yml runs for the
// main and the post step alike (the main step leaves a flag in its state).
import { isEntryPoint } from '../entry-point.js';
import { POST_FLAG, runMain } from './main.js';
import { runPost } from './post.js';
import { type ActionIo, escapeData } from './runner.js';

export type { ActionIo } from './runner.js';

/** The action's entry: the post step when the main step said so in its state. */
export function runAction(io: ActionIo): Promise<number> {
  return io.env[`STATE_${POST_FLAG}`] === 'true' ? Promise.resolve(runPost(io)) : runMain(io);
}

// Run by the runner (node actions/login/dist/index.mjs), for the main and the post step alike.
if (isEntryPoint(import.meta.url)) {
  runAction({ env: process.env, stdout: (t) => process.stdout.write(t) }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stdout.write(
        `::error title=purser login::${escapeData(err instanceof Error ? err.message : String(err))}\n`,
      );
      process.exit(1);
    },
  );
}
