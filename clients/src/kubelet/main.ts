// purser-credential-provider's command line on the real stdin/stdout/stderr. Imported by
// bin/purser-credential-provider.js and by the bundled entry (cli.ts).
import { HelperError } from '../errors.js';
import { PROVIDER_NAME, runProvider } from './run.js';

async function readLimited(stream: NodeJS.ReadableStream, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    size += b.length;
    if (size > maxBytes) throw new HelperError('INPUT_INVALID', `request larger than ${maxBytes} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function main(argv: readonly string[]): Promise<number> {
  return runProvider(argv, {
    readStdin: (max) => readLimited(process.stdin, max),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  });
}

/** Runs main and exits with its code once stdout is flushed. */
export function runAsProcess(argv: readonly string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.stderr.write(`${PROVIDER_NAME}: internal error\n`);
      process.exitCode = 1;
    },
  );
}
