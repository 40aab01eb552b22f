// Child processes for e2e tests: long-running servers with captured output, and one-shot commands.
import { type ChildProcess, spawn } from 'node:child_process';
import { onExit } from './cleanup.js';

const MAX_LOG = 8 * 1024 * 1024;

/** Every live child we started, killed on exit or interruption as a last resort. */
const live = new Set<ChildProcess>();
onExit(() => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr interleaved as received. */
  logs(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first line (past or future) matching; rejects on exit or timeout. */
  waitForLine(match: LineMatcher, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after graceMs. Safe to call more than once. */
  stop(graceMs?: number): Promise<void>;
}

export type LineMatcher = RegExp | ((line: string) => boolean);

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Label used in error messages. */
  name?: string;
}

export function startProcess(cmd: string, args: string[], opts: StartOptions = {}): Proc {
  const name = opts.name ?? cmd;
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let all = '';
  let out = '';
  let err = '';
  let running = true;
  const waiters = new Set<() => void>();
  const append = (s: string, which: 'out' | 'err'): void => {
    if (all.length < MAX_LOG) all += s;
    if (which === 'out') {
      if (out.length < MAX_LOG) out += s;
    } else if (err.length < MAX_LOG) err += s;
    for (const w of waiters) w();
  };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => append(s, 'out'));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => append(s, 'err'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      append(`[spawn error] ${e.message}\n`, 'err');
      running = false;
      live.delete(child);
      for (const w of waiters) w();
      resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => {
      running = false;
      live.delete(child);
      for (const w of waiters) w();
      resolve({ code, signal });
    });
  });

  const waitForLine = (match: LineMatcher, timeoutMs = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const test = typeof match === 'function' ? match : (l: string) => match.test(l);
      const re = typeof match === 'function' ? 'the expected line' : String(match);
      const check = (): boolean => {
        // Only complete lines, so a line is never matched half-written.
        const complete = all.slice(0, all.lastIndexOf('\n') + 1);
        for (const line of complete.split('\n')) {
          if (test(line)) {
            done();
            resolve(line);
            return true;
          }
        }
        if (!running) {
          done();
          reject(new Error(`${name} exited before printing ${re}; output:\n${all}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms; output:\n${all}`));
      }, timeoutMs);
      const waiter = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(waiter);
      };
      if (!check()) waiters.add(waiter);
    });

  const stop = async (graceMs = 5_000): Promise<void> => {
    if (!running) {
      await exited;
      return;
    }
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (running) child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  };

  return {
    child,
    pid: child.pid ?? -1,
    logs: () => all,
    stdout: () => out,
    stderr: () => err,
    waitForLine,
    exited,
    isRunning: () => running,
    stop,
  };
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** Milliseconds before the command is killed (SIGKILL). Default 60 s. */
  timeout?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The command line, for messages. */
  command: string;
}

/** Runs a command to completion. Never rejects for a non-zero exit; check `code`. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < MAX_LOG) stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < MAX_LOG) stderr += s;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeout ?? 60_000);
    child.on('error', (e) => {
      stderr += `[spawn error] ${e.message}\n`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut, command });
    });
    child.stdin.on('error', () => {
      // the child may exit without reading its input
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Formats a RunResult for an assertion message. */
export function describeRun(r: RunResult): string {
  return `$ ${r.command}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' TIMED OUT' : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
