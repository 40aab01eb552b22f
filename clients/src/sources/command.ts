// A command that prints a JWT (vault, gcloud, a script): its trimmed stdout is the token.
import { spawn } from 'node:child_process';
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';

/** A JWT is a few KiB: more on stdout is a wrong command, stopped before it fills memory. */
export const MAX_COMMAND_OUTPUT = 64 * 1024;
/** Only the last lines of stderr are shown; this much of its tail is kept. */
const STDERR_TAIL = 4 * 1024;

export function runCommand(command: string | string[], env: Env, timeoutMs = 30_000): Promise<string> {
  const [file, args] =
    typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0]!, command.slice(1)];
  const shown = typeof command === 'string' ? command : command.join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let tooMuch = false;
    let errTail = Buffer.alloc(0);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > MAX_COMMAND_OUTPUT) {
        if (!tooMuch) child.kill('SIGKILL');
        tooMuch = true;
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      errTail = Buffer.concat([errTail, b]);
      if (errTail.length > STDERR_TAIL) errTail = errTail.subarray(errTail.length - STDERR_TAIL);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(
        new HelperError(
          'SOURCE_FAILED',
          `token command ${JSON.stringify(shown)} could not run: ${e.message}`,
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (tooMuch) {
        reject(
          new HelperError(
            'SOURCE_FAILED',
            `token command ${JSON.stringify(shown)} printed more than ${MAX_COMMAND_OUTPUT / 1024} KiB: not a JWT`,
          ),
        );
        return;
      }
      const stderr = errTail.toString('utf8').trim().split('\n').slice(-3).join(' | ');
      if (code !== 0) {
        reject(
          new HelperError(
            'SOURCE_FAILED',
            `token command ${JSON.stringify(shown)} failed (${signal ? `signal ${signal}` : `exit ${code}`})${stderr ? `: ${stderr}` : ''}`,
          ),
        );
        return;
      }
      const token = Buffer.concat(out).toString('utf8').trim();
      if (token === '')
        reject(new HelperError('SOURCE_FAILED', `token command ${JSON.stringify(shown)} printed nothing`));
      else resolvePromise(token);
    });
  });
}
