// A throwaway certificate authority and a server certificate for 127.0.0.1/localhost, made
// with the openssl CLI: for tests that need a real HTTPS server a client must verify.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  /** The CA certificate (PEM) and its file. */
  caPem: string;
  caFile: string;
  /** The server's certificate and key (PEM), for 127.0.0.1, ::1 and localhost. */
  certPem: string;
  keyPem: string;
  /** The same server certificate and key as files (for servers configured by path, e.g. slapd). */
  certFile: string;
  keyFile: string;
}

const openssl = (dir: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/** Makes a CA named `name` in `dir` and a loopback server certificate it signs. */
export function makeTestCa(dir: string, name = 'purser-test-ca'): TestCa {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    dir,
    'req',
    '-x509',
    ...ec,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl(
    dir,
    'req',
    ...ec,
    '-keyout',
    `${name}-server.key`,
    '-out',
    `${name}-server.csr`,
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(
    join(dir, `${name}-server.ext`),
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}-server.csr`,
    '-CA',
    `${name}.crt`,
    '-CAkey',
    `${name}.key`,
    '-CAcreateserial',
    '-out',
    `${name}-server.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}-server.ext`,
  );
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    caPem: read(`${name}.crt`),
    caFile: join(dir, `${name}.crt`),
    certPem: read(`${name}-server.crt`),
    keyPem: read(`${name}-server.key`),
    certFile: join(dir, `${name}-server.crt`),
    keyFile: join(dir, `${name}-server.key`),
  };
}

/** A self-signed P-256 certificate for 127.0.0.1 and localhost: `dir/NAME.crt` and `dir/NAME.key`. */
export function makeSelfSigned(dir: string, name: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  );
  return { certFile, keyFile };
}
