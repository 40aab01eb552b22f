import { parseArgs } from 'node:util';

/** Bad command-line usage: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CommandIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => Promise<string>;
}

export const processIo: CommandIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** parseArgs that turns its errors into UsageError with the flag named. */
export function parse(args: string[], options: Record<string, OptionSpec>): { values: Values } {
  try {
    const r = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    return { values: r.values as Values };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}
export function flag(v: Values, name: string): boolean {
  return v[name] === true;
}
export function list(v: Values, name: string): string[] {
  const x = v[name];
  return Array.isArray(x)
    ? x.filter((y): y is string => typeof y === 'string')
    : typeof x === 'string'
      ? [x]
      : [];
}
