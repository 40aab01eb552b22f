import { bcryptHash } from '../authn/bcrypt.js';
import { type CommandIo, flag, parse, str, UsageError } from './usage.js';

export const HASH_HELP = `Usage: purser hash [--cost N]

Reads a password on standard input (one trailing newline is stripped) and prints a
bcrypt hash for the users: section or an htpasswd file.

Options:
  --cost N   bcrypt cost factor, 4 to 31 (default 12)
`;

export async function hashCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse(args, { cost: { type: 'string' } });
  if (flag(values, 'help')) {
    io.stdout(HASH_HELP);
    return 0;
  }
  const cost = str(values, 'cost') === undefined ? 12 : Number(str(values, 'cost'));
  if (!Number.isInteger(cost) || cost < 4 || cost > 31)
    throw new UsageError('--cost must be an integer from 4 to 31');
  const input = (await io.stdin()).replace(/\r?\n$/, '');
  if (input === '') throw new UsageError('no password on standard input');
  io.stdout(`${await bcryptHash(input, cost)}\n`);
  return 0;
}
