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
