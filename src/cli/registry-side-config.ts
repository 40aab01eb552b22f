import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { splitPemCertificates } from '../util/pem-value.js';
import { UsageError } from './usage.js';

/** What a registry's own config says about token auth (doctor's `--registry-config`). */
export interface RegistrySideConfig {
  file: string;
  kind: 'distribution' | 'zot';
  realm: string | undefined;
  service: string | undefined;
  /** distribution only: Zot checks no issuer. */
  issuer: string | undefined;
  /** The file of trusted certificates: rootcertbundle (distribution) or cert (Zot). */
  certFile: string | undefined;
  /** Public keys (SPKI DER, base64) of the certificates in certFile; undefined when unreadable. */
  certKeys: string[] | undefined;
  certError: string | undefined;
  /** distribution 3.x: a JWKS file trusted besides (or instead of) the bundle. */
  jwksFile: string | undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The public keys of every PEM certificate in a file, as base64 SPKI DER. */
function certificateKeys(path: string): string[] {
  const pem = readFileSync(path, 'utf8');
  const blocks = splitPemCertificates(pem);
  if (blocks.length === 0) throw new Error('no PEM certificate in it');
  return blocks.map((b) =>
    new X509Certificate(b).publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  );
}

/**
 * Reads a distribution `config.yml` (auth.token) or a Zot `config.json` (http.auth.bearer).
 * Relative paths are taken from the registry config's directory; a registry started elsewhere
 * resolves them from its working directory instead, so doctor says which file it read.
 */
export function readRegistrySideConfig(file: string): RegistrySideConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(
      `--registry-config ${file}: cannot read it (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
    );
  }
  const root = obj(doc);
  const token = obj(obj(root?.auth)?.token);
  const bearer = obj(obj(obj(root?.http)?.auth)?.bearer);
  if (!token && !bearer)
    throw new UsageError(
      `--registry-config ${file}: neither auth.token (distribution) nor http.auth.bearer (Zot) is set: the registry does not use token auth`,
    );
  const base = dirname(resolve(file));
  const at = (p: string | undefined) => (p === undefined ? undefined : resolve(base, p));
  const section = token ?? bearer!;
  const certFile = at(str(token ? token.rootcertbundle : bearer!.cert));
  let certKeys: string[] | undefined;
  let certError: string | undefined;
  if (certFile) {
    try {
      certKeys = certificateKeys(certFile);
    } catch (e) {
      certError = e instanceof Error ? e.message : String(e);
    }
  }
  return {
    file,
    kind: token ? 'distribution' : 'zot',
    realm: str(section.realm),
    service: str(section.service),
    issuer: token ? str(token.issuer) : undefined,
    certFile,
    certKeys,
    certError,
    jwksFile: token ? at(str(token.jwks)) : undefined,
  };
}
