// skopeo, isolated from the machine's configuration: own auth file, registries.conf, policy, HOME.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult, run } from './proc.js';
import { makeTempDir, removeDir } from './tmp.js';

export const SKOPEO_BIN = process.env.PURSER_TEST_SKOPEO_BIN ?? 'skopeo';

/** Credentials as `user:password`, or anonymous. Omitted: whatever the auth file holds. */
export type Creds = { username: string; password: string } | 'anonymous' | undefined;

export interface SkopeoCallOptions {
  timeout?: number;
  /** Extra arguments inserted after the subcommand. */
  args?: string[];
}

export interface Skopeo {
  dir: string;
  authFile: string;
  env: NodeJS.ProcessEnv;
  /** Runs `skopeo GLOBAL... ARGS...` with the isolated environment. */
  raw(args: string[], opts?: SkopeoCallOptions): Promise<RunResult>;
  copy(
    src: string,
    dest: string,
    creds?: { src?: Creds; dest?: Creds },
    opts?: SkopeoCallOptions,
  ): Promise<RunResult>;
  inspect(ref: string, creds?: Creds, opts?: SkopeoCallOptions & { raw?: boolean }): Promise<RunResult>;
  listTags(ref: string, creds?: Creds, opts?: SkopeoCallOptions): Promise<RunResult>;
  delete(ref: string, creds?: Creds, opts?: SkopeoCallOptions): Promise<RunResult>;
  login(host: string, username: string, password: string, opts?: SkopeoCallOptions): Promise<RunResult>;
  logout(host: string, opts?: SkopeoCallOptions): Promise<RunResult>;
  cleanup(): void;
}

function credArgs(prefix: '' | 'src-' | 'dest-', creds: Creds): string[] {
  if (creds === undefined) return [];
  if (creds === 'anonymous') return [`--${prefix}no-creds`];
  return [`--${prefix}creds`, `${creds.username}:${creds.password}`];
}

const isDocker = (ref: string): boolean => ref.startsWith('docker://');

export function createSkopeo(): Skopeo {
  const dir = makeTempDir('purser-skopeo-');
  const authFile = join(dir, 'auth.json');
  const registriesConf = join(dir, 'registries.conf');
  const registriesD = join(dir, 'registries.d');
  const policy = join(dir, 'policy.json');
  const tmp = join(dir, 'tmp');
  const home = join(dir, 'home');
  mkdirSync(registriesD);
  mkdirSync(tmp);
  mkdirSync(home);
  writeFileSync(authFile, '{"auths":{}}\n');
  writeFileSync(registriesConf, 'unqualified-search-registries = []\n');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    DOCKER_CONFIG: join(home, '.docker'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(home, '.config'),
    REGISTRY_AUTH_FILE: authFile,
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    TMPDIR: tmp,
  };
  writeFileSync(join(dir, 'containers.conf'), '');
  mkdirSync(join(dir, 'run'));
  const globals = ['--policy', policy, '--registries.d', registriesD, '--tmpdir', tmp];

  const raw = (args: string[], opts: SkopeoCallOptions = {}): Promise<RunResult> =>
    run(SKOPEO_BIN, [...globals, ...args], { env, timeout: opts.timeout ?? 90_000 });

  const withExtra = (sub: string[], opts: SkopeoCallOptions, rest: string[]): string[] => [
    ...sub,
    ...(opts.args ?? []),
    ...rest,
  ];

  return {
    dir,
    authFile,
    env,
    raw,
    copy: (src, dest, creds = {}, opts = {}) =>
      raw(
        withExtra(['copy'], opts, [
          '--authfile',
          authFile,
          ...(isDocker(src) ? ['--src-tls-verify=false', ...credArgs('src-', creds.src)] : []),
          ...(isDocker(dest) ? ['--dest-tls-verify=false', ...credArgs('dest-', creds.dest)] : []),
          src,
          dest,
        ]),
        opts,
      ),
    inspect: (ref, creds, opts = {}) =>
      raw(
        withExtra(['inspect'], opts, [
          '--authfile',
          authFile,
          '--tls-verify=false',
          ...(opts.raw ? ['--raw'] : []),
          ...credArgs('', creds),
          ref,
        ]),
        opts,
      ),
    listTags: (ref, creds, opts = {}) =>
      raw(
        withExtra(['list-tags'], opts, [
          '--authfile',
          authFile,
          '--tls-verify=false',
          ...credArgs('', creds),
          ref,
        ]),
        opts,
      ),
    delete: (ref, creds, opts = {}) =>
      raw(
        withExtra(['delete'], opts, [
          '--authfile',
          authFile,
          '--tls-verify=false',
          ...credArgs('', creds),
          ref,
        ]),
        opts,
      ),
    login: (host, username, password, opts = {}) =>
      run(
        SKOPEO_BIN,
        [
          ...globals,
          ...withExtra(['login'], opts, [
            '--authfile',
            authFile,
            '--tls-verify=false',
            '--username',
            username,
            '--password-stdin',
            host,
          ]),
        ],
        { env, input: `${password}\n`, timeout: opts.timeout ?? 60_000 },
      ),
    logout: (host, opts = {}) => raw(withExtra(['logout'], opts, ['--authfile', authFile, host]), opts),
    cleanup: () => removeDir(dir),
  };
}
