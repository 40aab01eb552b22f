// A Purser token server plus a real registry that trusts it: the standard e2e setup.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bcryptHash } from './bcrypt.js';
import type { LogSource } from './logs.js';
import { generateKeys, type KeyAlg, type KeyPair, type Purser, startPurser } from './purser.js';
import { type Registry, startRegistry } from './registry.js';
import { makeTempDir, removeDir } from './tmp.js';

export const ISSUER = 'purser';
export const SERVICE = 'registry.test';

export const ALICE = { username: 'alice', password: 'alice-pw' } as const;
export const BOB = { username: 'bob', password: 'bob-pw' } as const;

export type KeyIdMode = 'libtrust' | 'thumbprint' | 'x5c';

export interface StackOptions {
  alg?: KeyAlg;
  /** Omitted: the config has no keyId (Purser's default, libtrust). */
  keyId?: KeyIdMode;
  /** Replace the standard users/acl. */
  users?: Record<string, unknown>;
  acl?: unknown[];
  /** Extra top-level Purser config. */
  extra?: Record<string, unknown>;
}

export interface Stack {
  purser: Purser;
  registry: Registry;
  keys: KeyPair;
  /** registry host (127.0.0.1:PORT) for image references. */
  host: string;
  /** Log sources for withLogs(). */
  logSources(): LogSource[];
  stop(): Promise<void>;
}

/**
 * The standard users and rules: alice may do everything, bob may pull team/*,
 * anonymous may pull public/*.
 */
export async function standardUsers(): Promise<Record<string, unknown>> {
  return {
    alice: { password: ALICE.password },
    bob: await bcryptHash(BOB.password),
  };
}

export const STANDARD_ACL: unknown[] = [
  { match: { account: 'alice' }, actions: ['*'] },
  { match: { account: 'bob', type: 'repository', name: 'team/*' }, actions: ['pull'] },
  { match: { account: '', type: 'repository', name: 'public/*' }, actions: ['pull'] },
];

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = makeTempDir('purser-stack-');
  let purser: Purser | undefined;
  let registry: Registry | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([registry?.stop(), purser?.stop()]);
    removeDir(dir);
  };
  try {
    const keyDir = join(dir, 'keys');
    mkdirSync(keyDir);
    const keys = await generateKeys(keyDir, opts.alg ?? 'ES256');
    const token: Record<string, unknown> = {
      issuer: ISSUER,
      service: SERVICE,
      key: keys.key,
      certificate: keys.crt,
      expiresIn: 300,
    };
    if (opts.keyId) token.keyId = opts.keyId;
    const purserDir = join(dir, 'purser');
    mkdirSync(purserDir);
    purser = await startPurser(
      {
        token,
        users: opts.users ?? (await standardUsers()),
        acl: opts.acl ?? STANDARD_ACL,
        ...(opts.extra ?? {}),
      },
      { dir: purserDir },
    );
    registry = await startRegistry({
      auth: {
        mode: 'token',
        realm: purser.realm,
        service: SERVICE,
        issuer: ISSUER,
        rootcertbundle: keys.crt,
      },
    });
    const p = purser;
    const r = registry;
    return {
      purser: p,
      registry: r,
      keys,
      host: r.host,
      logSources: () => [
        { name: 'purser', logs: p.logs },
        { name: 'registry', logs: r.logs },
      ],
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
