import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { compileConfig } from '../compile/compile-config.js';
import { loadEffectiveConfig } from '../runtime/effective-config.js';
import { silentLogger } from '../util/log.js';
import { junitReport } from './junit.js';
import { loadCases } from './policy-cases.js';
import { evaluateCases, formatCase, formatReport } from './policy-test.js';
import { type CommandIo, UsageError } from './usage.js';

export const TEST_HELP = `Usage: purser test --config FILE CASES.yaml [--junit FILE]

Checks policy cases against a configuration without credentials and without issuing
anything: for each case (a static user, the anonymous caller, or a provider with the
claims of its JWT), the access granted per requested scope must equal the expected one.

CASES.yaml:
  cases:
    - name: ci may push its own repository
      provider: github             # or user: alice (labels: {...} optional) | anonymous: true
      claims: { repository: acme/app, ref: refs/heads/main }
      scopes: [repository:acme/app:pull,push]
      expect: { "repository:acme/app": [pull, push] }

A requested scope absent from expect is expected to get nothing.

Options:
  --config FILE   configuration file (with kubernetes.configSecrets, the Secrets
                  are merged over it, as serve does)
  --file-only     the file alone, without its Secrets
  --junit FILE    also write the results as JUnit XML (for CI)

Exit codes: 0 every case holds, 1 some case fails (each named with its diff),
2 bad usage, invalid configuration or invalid cases file.
`;

export async function testCommand(args: string[], io: CommandIo): Promise<number> {
  let values: {
    config?: string | undefined;
    junit?: string | undefined;
    'file-only'?: boolean | undefined;
    help?: boolean | undefined;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        'file-only': { type: 'boolean' },
        junit: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    io.stdout(TEST_HELP);
    return 0;
  }
  if (!values.config) throw new UsageError('--config FILE is required');
  if (positionals.length !== 1) throw new UsageError('give exactly one CASES.yaml file');
  const casesFile = positionals[0]!;
  const compiled = await compileConfig(
    await loadEffectiveConfig(values.config, values['file-only'] === true),
    { logger: silentLogger },
  );
  const cases = loadCases(casesFile);
  const results = await evaluateCases(compiled, cases, casesFile);
  io.stdout(formatReport(results));
  if (values.junit !== undefined) {
    const xml = junitReport(`purser test ${basename(casesFile)}`, results, formatCase);
    try {
      writeFileSync(values.junit, xml);
    } catch (e) {
      throw new UsageError(`--junit: cannot write ${values.junit}: ${(e as NodeJS.ErrnoException).code}`);
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
