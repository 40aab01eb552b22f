// The real distribution registry (`docker-registry serve`, 2.8.x) on a random 127.0.0.1 port.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { bcryptHash } from './bcrypt.js';
import { getFreePort } from './ports.js';
import { type Proc, startProcess } from './proc.js';
import { makeTempDir, removeDir } from './tmp.js';

export const REGISTRY_BIN = process.env.PURSER_TEST_REGISTRY_BIN ?? 'docker-registry';

export type RegistryAuth =
  | { mode: 'none' }
  /** users: name -> plain password (hashed here with bcrypt), or lines: raw htpasswd lines. */
  | { mode: 'htpasswd'; users?: Record<string, string>; lines?: string[]; realm?: string }
  | { mode: 'token'; realm: string; service: string; issuer: string; rootcertbundle: string };

export interface RegistryOptions {
  auth: RegistryAuth;
  /** Extra top-level config merged over the generated one (shallow). */
  extra?: Record<string, unknown>;
}

export interface Registry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, as image references want it. */
  host: string;
  port: number;
  /** Temp dir holding config, htpasswd and storage. */
  dir: string;
  configPath: string;
  proc: Proc;
  logs(): string;
  stop(): Promise<void>;
}

async function waitForV2(url: string, proc: Proc, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.isRunning()) throw new Error(`registry exited during start-up:\n${proc.logs()}`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
      last = `status ${res.status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`registry at ${url} not ready within ${timeoutMs} ms (${last}):\n${proc.logs()}`);
}

function registryEnv(): NodeJS.ProcessEnv {
  // REGISTRY_* variables override the config file; never inherit them.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('REGISTRY_')) env[k] = v;
  return env;
}

export async function startRegistry(opts: RegistryOptions): Promise<Registry> {
  const dir = makeTempDir('purser-registry-');
  try {
    const auth: Record<string, unknown> = {};
    const a = opts.auth;
    if (a.mode === 'htpasswd') {
      const lines = [...(a.lines ?? [])];
      for (const [user, pw] of Object.entries(a.users ?? {})) lines.push(`${user}:${await bcryptHash(pw)}`);
      const path = join(dir, 'htpasswd');
      writeFileSync(path, `${lines.join('\n')}\n`);
      auth.htpasswd = { realm: a.realm ?? 'purser-test', path };
    } else if (a.mode === 'token') {
      auth.token = { realm: a.realm, service: a.service, issuer: a.issuer, rootcertbundle: a.rootcertbundle };
    }
    const configPath = join(dir, 'config.yml');
    let lastErr: unknown;
    // A port picked by getFreePort can be taken by someone else before the registry binds it: retry.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await getFreePort();
      const config: Record<string, unknown> = {
        version: 0.1,
        log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
        storage: {
          filesystem: { rootdirectory: join(dir, 'data') },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
        ...(Object.keys(auth).length ? { auth } : {}),
        ...(opts.extra ?? {}),
      };
      writeFileSync(configPath, stringify(config));
      const proc = startProcess(REGISTRY_BIN, ['serve', configPath], {
        env: registryEnv(),
        cwd: dir,
        name: 'docker-registry',
      });
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitForV2(url, proc, 15_000);
      } catch (e) {
        lastErr = e;
        await proc.stop(1_000);
        continue;
      }
      let stopped = false;
      return {
        url,
        host: `127.0.0.1:${port}`,
        port,
        dir,
        configPath,
        proc,
        logs: () => proc.logs(),
        stop: async () => {
          if (stopped) return;
          stopped = true;
          await proc.stop(3_000);
          removeDir(dir);
        },
      };
    }
    throw lastErr;
  } catch (e) {
    removeDir(dir);
    throw e;
  }
}
