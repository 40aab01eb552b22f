// A private OpenLDAP slapd for a test: its own cn=config and mdb database in a temp dir, the
// memberof and ppolicy overlays, LDAPS and StartTLS with a certificate from a CA made for the
// test, entries added over the protocol (so memberof records memberOf). It can be killed (an
// outage), paused (a directory that accepts connections and never answers) and restarted.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getFreePort } from './ports.js';
import { type Proc, run, startProcess } from './proc.js';
import { makeTestCa, type TestCa } from './test-ca.js';
import { makeTempDir, removeDir } from './tmp.js';

export const BASE_DN = 'dc=example,dc=org';
export const ADMIN_DN = `cn=admin,${BASE_DN}`;
export const ADMIN_PW = 'admin-secret';
export const SERVICE_DN = `cn=purser-svc,${BASE_DN}`;
export const SERVICE_PW = 'service-secret';
export const PEOPLE = `ou=people,${BASE_DN}`;
export const GROUPS = `ou=groups,${BASE_DN}`;

/** The users of the directory, with the groups they are (directly) in. */
export const LDAP_USERS = {
  /** In `pushers`. */
  alice: 'alice-ldap-pw',
  /** In `readers` only. */
  bob: 'bob-ldap-pw',
  /** In `seniors`, which is itself a member of `pushers` (nested). */
  carol: 'carol-ldap-pw',
  /** In `pushers`, but locked (ppolicy pwdAccountLockedTime). */
  dave: 'dave-ldap-pw',
  /** In `readers`; left to the outage tests (no login of hers is cached before). */
  erin: 'erin-ldap-pw',
} as const;

export interface Slapd {
  dir: string;
  ca: TestCa;
  /** ldap://127.0.0.1:PORT (plain, StartTLS offered). */
  url: string;
  /** ldaps://127.0.0.1:PORT. */
  ldapsUrl: string;
  pid(): number;
  /** SIGKILL: an outage. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: connections are accepted by the kernel, nothing answers. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same ports, with the same data. */
  restart(): Promise<void>;
  /** Runs ldapmodify as the admin. */
  modify(ldif: string): Promise<void>;
  stop(): Promise<void>;
}

function configLdif(dir: string, ca: TestCa): string {
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${dir}/slapd.pid
olcTLSCertificateFile: ${ca.certFile}
olcTLSCertificateKeyFile: ${ca.keyFile}

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: ${BASE_DN}
olcRootDN: ${ADMIN_DN}
olcRootPW: ${ADMIN_PW}
olcDbDirectory: ${dir}/data
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by dn.exact="${SERVICE_DN}" read by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE

dn: olcOverlay={1}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {1}ppolicy
olcPPolicyDefault: cn=default,ou=policies,${BASE_DN}
`;
}

const person = (uid: string, pw: string): string => `dn: uid=${uid},${PEOPLE}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid}
sn: ${uid}
userPassword: ${pw}
`;

const group = (cn: string, members: string[]): string => `dn: cn=${cn},${GROUPS}
objectClass: groupOfNames
cn: ${cn}
${members.map((m) => `member: ${m}`).join('\n')}
`;

function dataLdif(): string {
  const u = (uid: string) => `uid=${uid},${PEOPLE}`;
  return [
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n`,
    `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups\n`,
    `dn: ou=policies,${BASE_DN}\nobjectClass: organizationalUnit\nou: policies\n`,
    `dn: cn=default,ou=policies,${BASE_DN}\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\npwdLockout: TRUE\npwdMaxFailure: 0\n`,
    `dn: ${SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: purser-svc\nuserPassword: ${SERVICE_PW}\n`,
    ...Object.entries(LDAP_USERS).map(([uid, pw]) => person(uid, pw)),
    // seniors first: adding pushers with seniors as a member gives seniors its memberOf.
    group('seniors', [u('carol')]),
    group('pushers', [u('alice'), u('dave'), `cn=seniors,${GROUPS}`]),
    group('readers', [u('bob'), u('erin')]),
  ].join('\n');
}

async function ldap(tool: string, url: string, ldif: string, extra: string[] = []): Promise<void> {
  const r = await run(tool, ['-x', '-H', url, '-D', ADMIN_DN, '-w', ADMIN_PW, ...extra], {
    input: ldif,
    timeout: 20_000,
  });
  if (r.code !== 0) throw new Error(`${tool} failed (${r.code}): ${r.stderr}${r.stdout}`);
}

async function launch(dir: string, url: string, ldapsUrl: string): Promise<Proc> {
  const proc = startProcess('slapd', ['-h', `${url}/ ${ldapsUrl}/`, '-F', join(dir, 'slapd.d'), '-d', '0'], {
    name: 'slapd',
    env: { ...process.env, LDAPNOINIT: '1' },
  });
  // Ready when an anonymous root DSE read answers.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await run('ldapsearch', ['-x', '-H', url, '-b', '', '-s', 'base', '-LLL', '1.1'], {
      timeout: 2_000,
    });
    if (r.code === 0) return proc;
    if (!proc.isRunning()) throw new Error(`slapd exited: ${proc.logs()}`);
    if (Date.now() > deadline) {
      await proc.stop(1_000);
      throw new Error(`slapd did not answer within 10 s: ${proc.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startSlapd(): Promise<Slapd> {
  const dir = makeTempDir('purser-slapd-');
  let proc: Proc | undefined;
  try {
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'slapd.d'));
    mkdirSync(join(dir, 'data'));
    const ca = makeTestCa(dir, 'ldap');
    writeFileSync(join(dir, 'config.ldif'), configLdif(dir, ca));
    const add = await run('slapadd', ['-n', '0', '-F', join(dir, 'slapd.d'), '-l', join(dir, 'config.ldif')]);
    if (add.code !== 0) throw new Error(`slapadd failed: ${add.stderr}`);
    const [port, tlsPort] = [await getFreePort(), await getFreePort()];
    const url = `ldap://127.0.0.1:${port}`;
    const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
    proc = await launch(dir, url, ldapsUrl);
    await ldap('ldapadd', url, dataLdif());
    // Locked for good (ppolicy: a time in the distant past with no pwdLockoutDuration).
    await ldap(
      'ldapmodify',
      url,
      `dn: uid=dave,${PEOPLE}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`,
    );
    let current = proc;
    return {
      dir,
      ca,
      url,
      ldapsUrl,
      pid: () => current.pid,
      async kill() {
        current.child.kill('SIGCONT');
        current.child.kill('SIGKILL');
        await current.exited;
      },
      pause() {
        current.child.kill('SIGSTOP');
      },
      resume() {
        current.child.kill('SIGCONT');
      },
      async restart() {
        current = await launch(dir, url, ldapsUrl);
      },
      modify: (ldif) => ldap('ldapmodify', url, ldif),
      async stop() {
        current.child.kill('SIGCONT');
        await current.stop(2_000);
        removeDir(dir);
      },
    };
  } catch (e) {
    await proc?.stop(1_000);
    removeDir(dir);
    throw e;
  }
}
