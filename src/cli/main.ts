import cluster from 'node:cluster';
import { isPurserError } from '../core/errors.js';
import { type CommandIo, processIo, UsageError } from './usage.js';

const HELP = `Usage: purser <command> [options]

Token authentication server for OCI / Docker registries.

Commands:
  serve [--config FILE]     run the token server (no config: embedded development default,
                            with a private registry when docker-registry is installed)
  keys generate             write a signing key and a certificate for the registry
  hash                      bcrypt a password read on stdin
  check                     explain what a caller would get, without issuing anything
  test --config FILE CASES  check policy cases (expected access per scope) against a config
  doctor --config FILE      print the matching registry configuration and key ids, warn about mismatches
  revoke --config FILE      revoke refresh tokens (--jti, --account, --provider) in the shared Redis store
  kube-controller           the Kubernetes pull-secret controller (package @purser/kube)

Run 'purser <command> --help' for a command's options.
Exit codes: 0 success, 2 bad usage or invalid configuration, 1 other failure.
`;

type Command = (args: string[], io: CommandIo) => Promise<number>;

// Each command is loaded when it runs: `serve` (and each of its workers) does not carry
// the modules of the others (Redis's client for revoke, the doctor's HTTP client, …).
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  keys: async () => (await import('./keys.js')).keysCommand,
  hash: async () => (await import('./hash.js')).hashCommand,
  check: async () => (await import('./check.js')).checkCommand,
  test: async () => (await import('./test.js')).testCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  revoke: async () => (await import('./revoke.js')).revokeCommand,
  'kube-controller': async () => (await import('./kube-controller.js')).kubeControllerCommand,
};

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.stdout(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    io.stdout('purser 0.1.0\n');
    return 0;
  }
  // A worker forked by `serve --workers N` (same arguments): it takes its config from its
  // primary, so it loads none of serve's file reading and validation.
  const load =
    cmd === 'serve' && cluster.isWorker
      ? async (): Promise<Command> => (await import('../runtime/cluster-worker.js')).runWorker
      : Object.hasOwn(COMMANDS, cmd)
        ? COMMANDS[cmd]
        : undefined;
  if (!load) {
    io.stderr(`purser: unknown command ${JSON.stringify(cmd)}; run 'purser --help'\n`);
    return 2;
  }
  try {
    const run = await load();
    return await run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`purser ${cmd}: ${e.message}\n`);
      return 2;
    }
    if (isPurserError(e)) {
      io.stderr(`purser ${cmd}: ${e.message}\n`);
      return e.code === 'INVALID_CONFIG' || e.code === 'INVALID_KEY' ? 2 : 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
      io.stderr(`purser ${cmd}: cannot listen: ${err.message}\n`);
      return 1;
    }
    io.stderr(`purser ${cmd}: ${err.message ?? String(e)}\n`);
    return 1;
  }
}
