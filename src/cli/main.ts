import { isPurserError } from '../core/errors.js';
import { checkCommand } from './check.js';
import { doctorCommand } from './doctor.js';
import { hashCommand } from './hash.js';
import { keysCommand } from './keys.js';
import { kubeControllerCommand } from './kube-controller.js';
import { revokeCommand } from './revoke.js';
import { serveCommand } from './serve.js';
import { testCommand } from './test.js';
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

const COMMANDS: Record<string, (args: string[], io: CommandIo) => Promise<number>> = {
  serve: serveCommand,
  keys: keysCommand,
  hash: hashCommand,
  check: checkCommand,
  test: testCommand,
  doctor: doctorCommand,
  revoke: revokeCommand,
  'kube-controller': kubeControllerCommand,
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
  const run = COMMANDS[cmd];
  if (!run) {
    io.stderr(`purser: unknown command ${JSON.stringify(cmd)}; run 'purser --help'\n`);
    return 2;
  }
  try {
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
