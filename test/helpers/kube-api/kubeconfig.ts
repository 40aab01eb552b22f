// A kubeconfig pointing at the double, for client-node's KubeConfig.loadFromFile (or, as
// options, loadFromOptions). JSON is YAML, so the file is written as JSON.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface KubeconfigTarget {
  url: string;
  token: string;
  /** The serving certificate (PEM) when the double runs HTTPS. */
  caPem: string | undefined;
  namespace?: string;
}

/** The options object `KubeConfig.loadFromOptions` takes. */
export function kubeconfigOptions(t: KubeconfigTarget) {
  const cluster = t.caPem
    ? { name: 'double', server: t.url, caData: Buffer.from(t.caPem).toString('base64'), skipTLSVerify: false }
    : // client-node refuses plain http unless skipTLSVerify is set (since 1.1.2).
      { name: 'double', server: t.url, skipTLSVerify: true };
  return {
    clusters: [cluster],
    users: [{ name: 'double', token: t.token }],
    contexts: [{ name: 'double', cluster: 'double', user: 'double', namespace: t.namespace ?? 'default' }],
    currentContext: 'double',
  };
}

/** The kubeconfig file as kubectl writes it. */
export function kubeconfigDocument(t: KubeconfigTarget): Record<string, unknown> {
  const cluster: Record<string, unknown> = { server: t.url };
  if (t.caPem) cluster['certificate-authority-data'] = Buffer.from(t.caPem).toString('base64');
  else cluster['insecure-skip-tls-verify'] = true;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'double', cluster }],
    users: [{ name: 'double', user: { token: t.token } }],
    contexts: [
      { name: 'double', context: { cluster: 'double', user: 'double', namespace: t.namespace ?? 'default' } },
    ],
    'current-context': 'double',
    preferences: {},
  };
}

export function writeKubeconfig(dir: string, t: KubeconfigTarget, file = 'kubeconfig'): string {
  const path = join(dir, file);
  writeFileSync(path, `${JSON.stringify(kubeconfigDocument(t), null, 2)}\n`, { mode: 0o600 });
  return path;
}
