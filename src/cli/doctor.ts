import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compileConfig } from '../compile/compile-config.js';
import { loadEffectiveConfig } from '../runtime/effective-config.js';
import { KeyRing } from '../token/keyring.js';
import { pemValueLabel, readPemBytes } from '../util/pem-value.js';
import { checkRegistry, type Finding } from './doctor-registry.js';
import { kubeletSetup } from './kubelet-setup.js';
import { registrySnippets } from './registry-config.js';
import { readRegistrySideConfig } from './registry-side-config.js';
import { type CommandIo, flag, parse, str, UsageError } from './usage.js';

export const DOCTOR_HELP = `Usage: purser doctor --config FILE [--realm URL] [--registry URL [--registry-config FILE] [--registry-ca FILE]]

Prints the registry-side configuration (distribution 2.x and 3.x auth.token blocks,
Zot bearer block) matching this config, every key's id in each form, the kubelet set-up
for a kubernetes provider, and a warning for each mismatch it can detect.

With --registry it also checks that registry live: its challenge (realm, service), its
clock, and whether it accepts a token signed by each key (rotation: a published key the
registry does not trust yet is named). Exit 1 when the registry would refuse Purser's
tokens, naming the cause and its fix.

Options:
  --config FILE           configuration file (with kubernetes.configSecrets, the
                          Secrets are merged over it, as serve does)
  --file-only             the file alone, without its Secrets
  --realm URL             the token URL as registries' clients reach it (default from listen)
  --registry URL          a running registry to check (http(s)://host:port)
  --registry-config FILE  that registry's config.yml (or Zot's config.json): names the exact
                          cause of a refusal (issuer, rootcertbundle), which the registry
                          itself only writes to its log
  --registry-ca FILE      PEM CA bundle for an https registry with a private CA
`;

export async function doctorCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string', short: 'c' },
    'file-only': { type: 'boolean' },
    realm: { type: 'string' },
    registry: { type: 'string' },
    'registry-config': { type: 'string' },
    'registry-ca': { type: 'string' },
  });
  if (flag(values, 'help')) {
    io.stdout(DOCTOR_HELP);
    return 0;
  }
  const file = str(values, 'config');
  if (!file) throw new UsageError('--config FILE is required');
  const registry = str(values, 'registry');
  let registryHost: string | undefined;
  if (registry !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(registry);
    } catch {}
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname.replace(/\/+$/, '') !== '')
      throw new UsageError(
        `--registry ${registry}: give the registry's base URL, e.g. https://registry.example.com`,
      );
    registryHost = u.host;
  }
  if (registry === undefined && (str(values, 'registry-config') || str(values, 'registry-ca')))
    throw new UsageError('--registry-config and --registry-ca need --registry URL');
  const registryConfig = str(values, 'registry-config');
  const side = registryConfig === undefined ? undefined : readRegistrySideConfig(registryConfig);
  const caFile = str(values, 'registry-ca');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new UsageError(`--registry-ca ${caFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const config = await loadEffectiveConfig(file, flag(values, 'file-only'));
  // The same compile as serve's: doctor never passes a configuration serve refuses.
  const compiled = await compileConfig(config);
  const ring = new KeyRing(compiled.signingKeys, {
    issuer: config.token.issuer,
    keyId: config.token.keyId,
    expiresIn: config.token.expiresIn,
  });
  const host = config.listen.startsWith(':') ? `127.0.0.1${config.listen}` : config.listen;
  const realm = str(values, 'realm') ?? `${config.tls ? 'https' : 'http'}://${host}/token`;
  const warnings: string[] = [];
  let out = `Purser configuration ${config.file}\n\nSigning keys (the first signs; all are published at /.well-known/jwks.json):\n`;
  ring.keys.forEach((k, i) => {
    const where = config.token.keys[i]!;
    out += `  [${i}] ${pemValueLabel(where.key)} (${k.alg})\n      libtrust kid:        ${k.libtrustKid}\n      RFC 7638 thumbprint: ${k.thumbprint}\n`;
    if (k.jwk.kty === 'EC') {
      const x = Buffer.from(k.jwk.x!, 'base64url');
      const y = Buffer.from(k.jwk.y!, 'base64url');
      if (x[0] === 0 || y[0] === 0) {
        warnings.push(
          `key [${i}]: a coordinate starts with a zero byte; distribution 3.1 computes its thumbprint differently (regenerate with purser keys generate)`,
        );
      }
    }
    if (where.certificate) {
      const cert = new X509Certificate(readPemBytes(where.certificate));
      const certName = pemValueLabel(where.certificate);
      out += `      x5c: ${certName} (subject ${cert.subject.replace(/\n/g, ', ')}, valid until ${cert.validTo})\n`;
      const left = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
      if (left < 0) warnings.push(`key [${i}]: certificate ${certName} expired on ${cert.validTo}`);
      else if (left < 30)
        warnings.push(`key [${i}]: certificate ${certName} expires in ${Math.floor(left)} days`);
    } else {
      out += `      x5c: none (no certificate configured)\n`;
      warnings.push(
        `key [${i}]: no certificate: a registry's rootcertbundle needs one (purser keys generate writes token.crt)`,
      );
    }
  });
  out += `\nTokens name their key by: ${config.token.keyId} (${config.token.keyId === 'x5c' ? 'certificate chain' : `kid ${ring.kidOf(ring.keys[0]!)}`})\n`;
  if (config.token.keyId === 'thumbprint')
    warnings.push(
      'keyId thumbprint: distribution 2.x refuses these tokens ("token signed by untrusted key"); use libtrust or x5c for 2.x',
    );
  if (config.listen.endsWith(':0') && !str(values, 'realm')) {
    warnings.push(
      'listen uses port 0 (a random port): pass --realm with the URL clients reach, or the realm above is unusable',
    );
  }
  if (config.token.services.length > 1)
    warnings.push(
      `several services configured; each registry must use one of: ${config.token.services.join(', ')}`,
    );
  if (!config.tls && !/^(127\.|\[::1\]|localhost)/.test(host))
    warnings.push(
      `listen ${config.listen} is not loopback and has no tls: passwords would cross the network in clear; terminate TLS in front or set tls:`,
    );
  const plain = Object.entries(config.users)
    .filter(([, u]) => 'password' in u)
    .map(([n]) => n);
  if (plain.length)
    warnings.push(`plaintext passwords for ${plain.join(', ')}: store bcrypt hashes (purser hash)`);

  const s = registrySnippets(config, realm);
  out += `\n${s.distribution2}\n${s.distribution3}\n${s.zot}`;
  const kubelet = kubeletSetup(config, registryHost);
  if (kubelet) out += `\n${kubelet}`;
  let findings: Finding[] = [];
  if (registry !== undefined) {
    findings = await checkRegistry(config, ring, {
      registry,
      realm,
      realmGiven: str(values, 'realm') !== undefined,
      ...(ca ? { ca } : {}),
      ...(side ? { registryConfig: side } : {}),
    });
    out += `\nLive checks against ${registry}${side ? ` (its config: ${side.file})` : ''}:\n`;
    for (const f of findings)
      out += `  ${f.level === 'ok' ? 'ok     ' : f.level === 'warning' ? 'WARNING' : 'ERROR  '} ${f.message}\n${f.fix ? `          fix: ${f.fix}\n` : ''}`;
  }
  const errors = findings.filter((f) => f.level === 'error').length;
  out += warnings.length
    ? `\nWarnings:\n${warnings.map((w) => `  - ${w}`).join('\n')}\n`
    : errors
      ? ''
      : '\nNo problems found.\n';
  if (errors)
    out += `\nThe registry at ${registry} would refuse Purser's tokens: ${errors} error(s) above.\n`;
  else if (registry !== undefined) out += `\nThe registry at ${registry} accepts Purser's tokens.\n`;
  io.stdout(out);
  return errors ? 1 : 0;
}
