// A command that prints a JWT (vault, gcloud, a script): its trimmed stdout is the token.
import { spawn } from 'node:child_process';
import type { Env } from '../env.js';
import { HelperError } from '../errors.js';

export function runCommand(command: string | string[], env: Env, timeoutMs = 30_000): Promise<string> {
  const [file, args] =
    typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0]!, command.slice(1)];
  const shown = typeof command === 'string' ? command : command.join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new HelperError(`token command ${JSON.stringify(shown)} could not run: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join(' | ');
      if (code !== 0) {
        reject(
          new HelperError(
            `token command ${JSON.stringify(shown)} failed (${signal ? `signal ${signal}` : `exit ${code}`})${stderr ? `: ${stderr}` : ''}`,
          ),
        );
        return;
      }
      const token = Buffer.concat(out).toString('utf8').trim();
      if (token === '') reject(new HelperError(`token command ${JSON.stringify(shown)} printed nothing`));
      else resolvePromise(token);
    });
  });
}
