// docker-credential-purser's command line: the protocol on the real stdin/stdout/stderr and
// environment. This file is the entry esbuild bundles into the single-file script
// (clients/dist/docker-credential-purser.mjs, actions/login/dist/credhelper.mjs).
import { isEntryPoint } from '../entry-point.js';
import { NAME } from '../version.js';
import { runHelper } from './protocol.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The command line entry: real stdin/stdout/stderr and environment. */
export function main(argv: readonly string[]): Promise<number> {
  return runHelper(argv, {
    readStdin: () => readAll(process.stdin),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    stdoutIsTty: process.stdout.isTTY === true,
  });
}

// Run directly (the action's bundled copy, actions/login/dist/credhelper.mjs): be the helper.
// Imported (bin/docker-credential-purser.js, the action, tests): do nothing.
if (isEntryPoint(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${NAME}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
