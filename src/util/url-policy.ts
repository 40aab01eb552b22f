import { isIPv4 } from 'node:net';
import { shown } from './redact.js';

/** True for 127.0.0.0/8, ::1 and `localhost`. A name like `127.example.com` is not loopback. */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]' || hostname === '::1') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}

/**
 * Identity provider URLs must be https://; plain http:// is accepted only on a loopback
 * address (a test issuer, a sidecar). Returns the problem, or undefined when the URL is fine.
 */
export function issuerUrlProblem(u: string): string | undefined {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return `${shown(u)} is not a URL`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined;
  return `${shown(u)}: only https:// is accepted (http:// only on a loopback address)`;
}

/**
 * Hosts that reach this machine: loopback, the unspecified addresses (which connect to
 * it on Linux), IPv4-mapped loopback and `*.localhost`.
 */
function isLocalHost(hostname: string): boolean {
  const h = hostname.replace(/\.$/, '').toLowerCase();
  if (isLoopbackHost(h) || h === '0.0.0.0' || h === '[::]' || h.endsWith('.localhost')) return true;
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}\]$/.exec(h);
  return mapped !== null && Number.parseInt(mapped[1]!, 16) >> 8 === 127;
}

/**
 * The check for a `jwks_uri` an issuer's discovery document names. The loopback exception
 * (plain http) belongs to loopback issuers only: a remote issuer's document may not send
 * Purser to this machine at all, by http or https.
 */
export function discoveredJwksUrlProblem(jwksUri: string, issuer: string): string | undefined {
  const problem = issuerUrlProblem(jwksUri);
  if (problem) return problem;
  let issuerHost: string;
  try {
    issuerHost = new URL(issuer).hostname;
  } catch {
    return `issuer ${shown(issuer)} is not a URL`;
  }
  if (!isLocalHost(issuerHost) && isLocalHost(new URL(jwksUri).hostname))
    return `${shown(jwksUri)}: on this machine, but the issuer is not (the loopback exception is for loopback issuers only)`;
  return undefined;
}
