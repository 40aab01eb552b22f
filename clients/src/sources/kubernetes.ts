// Kubernetes: a projected service account token file, re-read on every use (the kubelet rotates it).
import { readFileSync } from 'node:fs';
import { HelperError } from '../errors.js';

export function readTokenFile(path: string): string {
  let v: string;
  try {
    v = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new HelperError(
      'SOURCE_UNAVAILABLE',
      `cannot read the Kubernetes service account token ${path}: ${(e as Error).message}`,
    );
  }
  if (v === '')
    throw new HelperError('SOURCE_UNAVAILABLE', `the Kubernetes service account token ${path} is empty`);
  return v;
}
