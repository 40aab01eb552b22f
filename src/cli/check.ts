import { readFileSync } from 'node:fs';
import { compileConfig } from '../compile/compile-config.js';
import { PurserError } from '../core/errors.js';
import type { Identity } from '../core/identity.js';
import { ANONYMOUS } from '../core/identity.js';
import { Secret } from '../core/secret.js';
import { formatScope, isZotCatalogScope, parseScopes } from '../protocol/scope.js';
import { loadEffectiveConfig } from '../runtime/effective-config.js';
import { buildApp } from '../server/app.js';
import { accessEntries } from '../token/signer.js';
import { silentLogger } from '../util/log.js';
import { type CommandIo, flag, list, parse, str, UsageError } from './usage.js';

export const CHECK_HELP = `Usage: purser check --config FILE --scope S [--scope S ...]
                    (--user U --password-stdin | --jwt FILE | --anonymous)
                    [--service NAME] [--ip ADDR] [--json]

Explains, without issuing anything, who the caller is, which rule decided each
requested action, and the access a token would carry.

Options:
  --config FILE      configuration file (with kubernetes.configSecrets, the
                     Secrets are merged over it, as serve does)
  --file-only        the file alone, without its Secrets
  --scope S          a scope, e.g. repository:team/app:pull,push (repeatable)
  --user U           a static user (or a provider name with --password-stdin holding a JWT)
  --password-stdin   read the password (or JWT) from standard input
  --jwt FILE         a workload identity JWT (OIDC providers)
  --anonymous        the anonymous caller
  --service NAME     the service to ask for (default: the first configured)
  --ip ADDR          the client address the ACL sees (default 127.0.0.1)
  --json             print the result as JSON
`;

export async function checkCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string', short: 'c' },
    'file-only': { type: 'boolean' },
    scope: { type: 'string', multiple: true },
    user: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    jwt: { type: 'string' },
    anonymous: { type: 'boolean' },
    service: { type: 'string' },
    ip: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flag(values, 'help')) {
    io.stdout(CHECK_HELP);
    return 0;
  }
  const file = str(values, 'config');
  if (!file) throw new UsageError('--config FILE is required');
  const modes = [
    str(values, 'user') !== undefined,
    str(values, 'jwt') !== undefined,
    flag(values, 'anonymous'),
  ].filter(Boolean).length;
  if (modes !== 1)
    throw new UsageError('give exactly one of --user U --password-stdin, --jwt FILE, --anonymous');
  if (str(values, 'user') !== undefined && !flag(values, 'password-stdin'))
    throw new UsageError('--user needs --password-stdin');
  let scopes: ReturnType<typeof parseScopes>;
  try {
    scopes = parseScopes(list(values, 'scope'));
  } catch (e) {
    throw new UsageError(`--scope: ${(e as Error).message}`);
  }

  const config = await loadEffectiveConfig(file, flag(values, 'file-only'));
  // buildApp compiles first (compile/compile-config.ts): check refuses exactly what serve refuses.
  const app = await buildApp(await compileConfig(config), silentLogger);
  if (config.token.compat !== 'zot' && scopes.some(isZotCatalogScope))
    throw new UsageError(
      '--scope: empty resource name (Zot asks for it for its catalog: set token.compat: zot)',
    );
  const ip = str(values, 'ip') ?? '127.0.0.1';
  const service = app.tokens.resolveService(str(values, 'service'));

  let identity: Identity;
  let how: string;
  const trace: string[] = [];
  try {
    if (flag(values, 'anonymous')) {
      if (!config.auth.anonymous)
        throw new PurserError('UNAUTHORIZED', 'anonymous access is disabled (auth.anonymous: false)');
      identity = ANONYMOUS;
      how = 'anonymous (no credentials)';
    } else {
      let username = str(values, 'user');
      let password: string;
      const jwtFile = str(values, 'jwt');
      if (jwtFile !== undefined) {
        password = readFileSync(jwtFile, 'utf8').trim();
        username = '';
      } else {
        password = (await io.stdin()).replace(/\r?\n$/, '');
      }
      identity = await app.tokens.authenticate(
        { username: username ?? '', password: new Secret(password) },
        ip,
        trace,
      );
      how = `authenticated by ${identity.provider === 'static' ? 'a static user' : `provider ${identity.provider}`}`;
    }
  } catch (e) {
    if (e instanceof PurserError) {
      io.stderr(
        `${trace.map((t) => `  ${t}\n`).join('')}purser check: authentication failed: ${e.message}\n`,
      );
      return 1;
    }
    throw e;
  }

  // The authorizer serve uses: with token.compat: zot, its catalog mapping and `*` expansion too.
  const decisions = await app.authorizer.authorize({ identity, service, scopes, ip });
  const access = accessEntries(
    decisions.filter((d) => d.granted.length > 0).map((d) => ({ ...d.requested, actions: d.granted })),
  );
  if (flag(values, 'json')) {
    io.stdout(
      `${JSON.stringify(
        {
          identity: {
            account: identity.account,
            provider: identity.provider,
            labels: identity.labels,
            groups: identity.groups ?? [],
          },
          verification: trace,
          service,
          decisions: decisions.map((d) => ({
            scope: formatScope(d.requested),
            rule: d.rule === undefined ? null : `acl[${d.rule}]`,
            granted: d.granted,
            explanation: d.explanation,
          })),
          access,
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  let out = trace.length ? `verification:\n${trace.map((t) => `  ${t}\n`).join('')}` : '';
  out += `caller:   ${identity.account === '' ? '(anonymous)' : identity.account} [${identity.provider}] — ${how}\n`;
  if (Object.keys(identity.labels).length) out += `labels:   ${JSON.stringify(identity.labels)}\n`;
  if (identity.groups?.length) out += `groups:   ${JSON.stringify(identity.groups)}\n`;
  out += `service:  ${service}\n`;
  if (scopes.length === 0)
    out += 'scopes:   none requested (a login check): the token would carry no access\n';
  for (const d of decisions) {
    out += `\n${formatScope(d.requested)}\n`;
    if (d.requested.actions.length === 0) out += '  (no known actions requested)\n';
    for (const a of d.requested.actions) {
      const got = a === '*' ? d.granted.join(',') : d.granted.includes(a) ? a : '';
      out += got
        ? `  ${a.padEnd(7)} granted${a === '*' && got !== '*' ? ` as ${got}` : ''} by ${d.explanation.replace(/ grants .*/, '')}\n`
        : `  ${a.padEnd(7)} DENIED: ${d.rule === undefined ? 'no rule matched' : d.explanation.replace('grants', 'decides, granting only')}\n`;
    }
  }
  out += `\naccess:   ${JSON.stringify(access)}\n`;
  io.stdout(out);
  return 0;
}
