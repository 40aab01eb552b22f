import { readFileSync } from 'node:fs';

/**
 * Keys that name a PEM file (signing keys and certificates, CA bundles, TLS) also take the PEM
 * itself: a configuration from a Kubernetes Secret has no directory to hold files. A value
 * that starts with a PEM header is the PEM; anything else is a path.
 */
const INLINE_PEM_RE = /^\s*-----BEGIN [A-Z0-9 ]+-----/;

export function isInlinePem(value: string): boolean {
  return INLINE_PEM_RE.test(value);
}

/** The PEM text a path-or-PEM value stands for (reading the file; fs errors propagate). */
export function readPemValue(value: string): string {
  return isInlinePem(value) ? value : readFileSync(value, 'utf8');
}

/** The same, as bytes (what node:tls takes). */
export function readPemBytes(value: string): Buffer {
  return isInlinePem(value) ? Buffer.from(value) : readFileSync(value);
}

/** How a path-or-PEM value is named in messages: the path, or `inline PEM` (never the PEM). */
export function pemValueLabel(value: string): string {
  return isInlinePem(value) ? 'inline PEM' : value;
}

/** The PEM certificate blocks of a bundle, in order (leaf first in a chain). */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
