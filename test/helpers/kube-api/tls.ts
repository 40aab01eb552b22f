// A throwaway CA-less self-signed certificate for 127.0.0.1, so the double can serve HTTPS the
// way a real API server does and the kubeconfig can pin it.
import { readFileSync } from 'node:fs';
import { makeSelfSigned } from '../test-ca.js';
import { makeTempDir, removeDir } from '../tmp.js';

export interface ServingCert {
  cert: string;
  key: string;
}

export function selfSignedCert(): ServingCert {
  const dir = makeTempDir('purser-kube-api-tls-');
  try {
    const { certFile, keyFile } = makeSelfSigned(dir, 'kube-apiserver-double');
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } finally {
    removeDir(dir);
  }
}
