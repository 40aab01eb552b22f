// A throwaway CA-less self-signed certificate for 127.0.0.1 (openssl, installed here), so the
// double can serve HTTPS the way a real API server does and the kubeconfig can pin it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeDir } from '../tmp.js';

export interface ServingCert {
  cert: string;
  key: string;
}

export function selfSignedCert(): ServingCert {
  const dir = makeTempDir('purser-kube-api-tls-');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=kube-apiserver-double',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'pipe' },
    );
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    removeDir(dir);
  }
}
