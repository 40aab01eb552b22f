import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describeIssue } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import { parseScope, type Scope } from '../protocol/scope.js';

/** A cases file is read whole: beyond this it is not a policy test but a mistake. */
const MAX_CASES_BYTES = 4 * 1024 * 1024;
const MAX_CASES = 10_000;

const action = z
  .string()
  .regex(/^(?:\*|[a-z][a-z0-9_-]*)$/, 'expected an action such as pull, push, delete or *');

const caseSchema = z
  .strictObject({
    name: z.string().min(1).max(200),
    user: z.string().min(1).optional(),
    anonymous: z.literal(true).optional(),
    provider: z.string().min(1).optional(),
    claims: z.record(z.string(), z.unknown()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    service: z.string().min(1).optional(),
    ip: z.string().min(1).optional(),
    scopes: z.array(z.string().min(1)).max(64),
    expect: z.record(z.string().min(1), z.array(action)),
  })
  .superRefine((c, ctx) => {
    const modes = [c.user !== undefined, c.anonymous === true, c.provider !== undefined].filter(Boolean);
    if (modes.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'give exactly one of user, anonymous: true, provider',
      });
    if (c.provider !== undefined && c.claims === undefined)
      ctx.addIssue({ code: 'custom', path: ['claims'], message: 'provider cases need the JWT claims' });
    if (c.provider === undefined && c.claims !== undefined)
      ctx.addIssue({ code: 'custom', path: ['claims'], message: 'claims go with provider' });
    if (c.provider !== undefined && c.labels !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['labels'],
        message: "a provider's labels come from its labels: CEL on the claims; give claims instead",
      });
  });

const casesSchema = z.strictObject({ cases: z.array(caseSchema).min(1).max(MAX_CASES) });

export type PolicyCaseData = z.output<typeof caseSchema>;

/** One case, its scopes parsed and its expectations keyed by `TYPE:NAME`. */
export interface PolicyCase {
  readonly where: string;
  readonly data: PolicyCaseData;
  readonly scopes: readonly Scope[];
  readonly expect: ReadonlyMap<string, readonly string[]>;
}

/** The key a scope's expectation is written under: `TYPE:NAME` (`TYPE(CLASS):NAME` with a class). */
export function scopeKey(s: Scope): string {
  return `${s.type}${s.class ? `(${s.class})` : ''}:${s.name}`;
}

/** Reads and checks a cases file; throws a ConfigError naming the file and key at fault. */
export function loadCases(file: string): PolicyCase[] {
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_CASES_BYTES) throw new ConfigError(file, '', `larger than ${MAX_CASES_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(
      file,
      '',
      `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(file, '', `not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = casesSchema.safeParse(doc);
  if (!parsed.success) {
    const { path, message } = describeIssue(parsed.error.issues[0]!);
    throw new ConfigError(file, path, message);
  }
  const names = new Set<string>();
  return parsed.data.cases.map((data, i) => {
    const where = `cases[${i}]`;
    if (names.has(data.name))
      throw new ConfigError(file, `${where}.name`, `duplicate case name ${JSON.stringify(data.name)}`);
    names.add(data.name);
    const scopes = data.scopes.map((raw, j) => {
      try {
        return parseScope(raw);
      } catch (e) {
        throw new ConfigError(file, `${where}.scopes[${j}]`, (e as Error).message);
      }
    });
    const keys = new Set(scopes.map(scopeKey));
    if (keys.size !== scopes.length)
      throw new ConfigError(
        file,
        `${where}.scopes`,
        'the same TYPE:NAME is requested twice; merge the actions into one scope',
      );
    const expect = new Map<string, string[]>();
    for (const [key, actions] of Object.entries(data.expect)) {
      // Every expectation must be about a requested scope, or a typo would pass silently.
      if (!keys.has(key))
        throw new ConfigError(
          file,
          `${where}.expect.${key}`,
          `not one of the requested scopes (${[...keys].join(', ') || 'none'})`,
        );
      expect.set(key, [...new Set(actions)]);
    }
    return { where, data, scopes, expect };
  });
}
