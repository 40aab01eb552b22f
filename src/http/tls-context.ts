import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { ConfigError } from '../core/errors.js';
import { pemValueLabel, readPemBytes } from '../util/pem-value.js';

/** A listener's `tls:` settings, paths absolute. */
export interface TlsFiles {
  cert: string;
  key: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface TlsPair {
  options: SecureContextOptions;
  /** SHA-256 fingerprint of the leaf certificate, for log lines. */
  fingerprint: string;
  /** The leaf's notAfter, for log lines. */
  validTo: string;
}

/** A path, or the PEM itself (config from Secrets); messages name `inline PEM`, never the PEM. */
function read(path: string): Buffer {
  try {
    return readPemBytes(path);
  } catch (e) {
    throw new ConfigError(
      pemValueLabel(path),
      '',
      `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/**
 * Reads and checks a certificate and key pair. Throws a ConfigError naming the file at fault:
 * the certificate that does not parse, the key that does not parse, or the key that is not
 * the certificate's. No message carries the files' contents.
 */
export function loadTlsPair(t: TlsFiles): TlsPair {
  const cert = read(t.cert);
  const key = read(t.key);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new ConfigError(pemValueLabel(t.cert), '', 'not a PEM certificate');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError(pemValueLabel(t.key), '', 'not a PEM private key (or it is encrypted)');
  }
  if (!leaf.checkPrivateKey(privateKey))
    throw new ConfigError(pemValueLabel(t.key), '', `not the private key of the certificate ${t.cert}`);
  const options: SecureContextOptions = { cert, key, minVersion: t.minVersion };
  try {
    createSecureContext(options);
  } catch (e) {
    // OpenSSL's reason (a chain it refuses, say): it names no key material.
    throw new ConfigError(pemValueLabel(t.cert), '', `refused by OpenSSL: ${(e as Error).message}`);
  }
  return { options, fingerprint: leaf.fingerprint256, validTo: leaf.validTo };
}

/** New handshakes on `server` use this pair from now on; connections open keep theirs. */
export function useTlsPair(server: TlsServer, pair: TlsPair): void {
  server.setSecureContext(pair.options);
}
