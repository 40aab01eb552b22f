// A private CA and a server certificate it signs (openssl), for TLS tests on 127.0.0.1.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.js';

export interface TestCa {
  /** PEM files. */
  caCert: string;
  cert: string;
  key: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd, timeout: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/**
 * Writes `NAME-ca.crt` (a CA made for this test) and `NAME-server.crt`/`NAME-server.key`
 * for 127.0.0.1, ::1 and localhost into `dir`.
 */
export async function makeTestCa(dir: string, name = 'test'): Promise<TestCa> {
  const f = (s: string) => join(dir, `${name}-${s}`);
  await openssl(
    [
      'req',
      '-x509',
      ...P256,
      '-days',
      '2',
      '-subj',
      `/CN=${name} test CA`,
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await openssl(
    ['req', ...P256, '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')],
    dir,
  );
  writeFileSync(
    f('server.ext'),
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      f('server.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      f('server.crt'),
      '-extfile',
      f('server.ext'),
    ],
    dir,
  );
  return { caCert: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}
