import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selfSignedCertificate } from '../token/certificate.js';
import { jwkThumbprint, libtrustKeyId } from '../token/keyid.js';
import { generateSigningKeyPair, type SigningAlgorithm } from '../token/keys.js';
import { type CommandIo, flag, parse, str, UsageError } from './usage.js';

export const KEYS_HELP = `Usage: purser keys generate [--alg ES256|RS256] --out DIR [--force]

Writes DIR/token.key (PKCS#8 PEM private key) and DIR/token.crt (self-signed X.509
certificate, for the registry's auth.token.rootcertbundle), and prints the key ids.

Options:
  --alg ES256|RS256   signature algorithm (default ES256)
  --out DIR           output directory (created if missing)
  --cn NAME           certificate common name (default "purser token signer")
  --days N            certificate validity in days (default 3650)
  --force             overwrite existing files
`;

export async function writeKeyPair(
  dir: string,
  alg: SigningAlgorithm,
  opts: { cn?: string; days?: number } = {},
) {
  const { privateKey, publicKey } = generateSigningKeyPair(alg);
  const cert = selfSignedCertificate(privateKey, publicKey, {
    ...(opts.cn ? { commonName: opts.cn } : {}),
    ...(opts.days ? { days: opts.days } : {}),
  });
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, 'token.key');
  const crtPath = join(dir, 'token.crt');
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  writeFileSync(crtPath, cert);
  return { keyPath, crtPath, libtrust: libtrustKeyId(publicKey), thumbprint: await jwkThumbprint(publicKey) };
}

export async function keysCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout(KEYS_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'generate')
    throw new UsageError(`unknown keys subcommand ${JSON.stringify(sub)}; try: purser keys generate --help`);
  const { values } = parse(rest, {
    alg: { type: 'string' },
    out: { type: 'string' },
    cn: { type: 'string' },
    days: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (flag(values, 'help')) {
    io.stdout(KEYS_HELP);
    return 0;
  }
  const alg = (str(values, 'alg') ?? 'ES256').toUpperCase();
  if (alg !== 'ES256' && alg !== 'RS256')
    throw new UsageError(`--alg must be ES256 or RS256, not ${JSON.stringify(str(values, 'alg'))}`);
  const out = str(values, 'out');
  if (!out) throw new UsageError('--out DIR is required');
  const days = str(values, 'days') === undefined ? undefined : Number(str(values, 'days'));
  if (days !== undefined && (!Number.isInteger(days) || days < 1))
    throw new UsageError('--days must be a positive integer');
  for (const f of ['token.key', 'token.crt']) {
    if (!flag(values, 'force') && existsSync(join(out, f))) {
      throw new UsageError(`${join(out, f)} exists; pass --force to overwrite`);
    }
  }
  const r = await writeKeyPair(out, alg, {
    ...(str(values, 'cn') ? { cn: str(values, 'cn') } : {}),
    ...(days ? { days } : {}),
  });
  io.stdout(
    `wrote ${r.keyPath} (${alg} private key)\nwrote ${r.crtPath} (self-signed certificate for the registry's rootcertbundle)\n` +
      `libtrust key id:  ${r.libtrust}\nRFC 7638 thumbprint: ${r.thumbprint}\n`,
  );
  return 0;
}
