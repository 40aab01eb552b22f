// podman, isolated from the machine: vfs storage, containers.conf, registries.conf and auth file in a temp dir.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunResult, run } from './proc.js';
import { makeTempDir, removeDir } from './tmp.js';

export const PODMAN_BIN = process.env.PURSER_TEST_PODMAN_BIN ?? 'podman';

export interface PodmanCallOptions {
  timeout?: number;
  args?: string[];
}

export interface Podman {
  dir: string;
  authFile: string;
  env: NodeJS.ProcessEnv;
  raw(args: string[], opts?: PodmanCallOptions & { input?: string }): Promise<RunResult>;
  login(host: string, username: string, password: string, opts?: PodmanCallOptions): Promise<RunResult>;
  logout(host: string, opts?: PodmanCallOptions): Promise<RunResult>;
  /** Loads `oci:DIR:TAG` into local storage; returns the result (stdout's last line is the image id). */
  pullOci(dir: string, tag: string, opts?: PodmanCallOptions): Promise<RunResult>;
  tag(src: string, dest: string, opts?: PodmanCallOptions): Promise<RunResult>;
  /** Pushes a local image to docker://dest; `digest()` after success reads the pushed manifest digest. */
  push(image: string, dest: string, opts?: PodmanCallOptions): Promise<RunResult & { digest?: string }>;
  pull(ref: string, opts?: PodmanCallOptions): Promise<RunResult>;
  rmi(image: string, opts?: PodmanCallOptions): Promise<RunResult>;
  /** `podman image inspect --format FORMAT image`. */
  inspect(image: string, format: string, opts?: PodmanCallOptions): Promise<RunResult>;
  cleanup(): Promise<void>;
}

export interface PodmanStorage {
  /**
   * A directory kept across runs (a build's layer cache) for the graph root and the libpod
   * dirs podman records beside it (run root, tmp, static, volumes: its database refuses a
   * graph root whose other dirs moved). Default: all in the temp dir.
   */
  dir: string;
  /** Default vfs (works anywhere); overlay is much faster for builds where the kernel has it. */
  driver: 'vfs' | 'overlay';
}

export interface PodmanOptions {
  storage?: PodmanStorage;
  /** OCI runtime for containers (`podman run`, a build's RUN steps); default podman's. */
  runtime?: string;
  /**
   * Limits for containers (`nofile=SOFT:HARD`). podman's defaults raise them, which fails
   * where the caller lacks CAP_SYS_RESOURCE (this machine's sandbox): give lower ones.
   */
  ulimits?: string[];
}

/** hosts: registries (host:port) to mark insecure (plain http). */
export function createPodman(hosts: string[] = [], opts: PodmanOptions = {}): Podman {
  const { storage } = opts;
  const dir = makeTempDir('purser-podman-');
  const d = (...p: string[]): string => join(dir, ...p);
  const kept = (sub: string): string => (storage ? join(storage.dir, sub) : d(sub));
  const driver = storage?.driver ?? 'vfs';
  for (const sub of ['storage', 'runroot', 'tmp', 'static', 'volumes', 'home', 'run', 'net', 'cache'])
    mkdirSync(d(sub));
  for (const sub of ['storage', 'runroot', 'tmp', 'static', 'volumes'])
    mkdirSync(kept(sub), { recursive: true });
  const graphRoot = kept('storage');
  const authFile = d('auth.json');
  writeFileSync(authFile, '{"auths":{}}\n');
  writeFileSync(
    d('storage.conf'),
    `[storage]\ndriver = "${driver}"\ngraphroot = "${graphRoot}"\nrunroot = "${kept('runroot')}"\n`,
  );
  writeFileSync(
    d('containers.conf'),
    [
      '[containers]',
      ...(opts.ulimits ? [`default_ulimits = ${JSON.stringify(opts.ulimits)}`] : []),
      '[engine]',
      ...(opts.runtime ? [`runtime = ${JSON.stringify(opts.runtime)}`] : []),
      'lock_type = "file"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "none"',
      `tmp_dir = "${kept('tmp')}"`,
      `static_dir = "${kept('static')}"`,
      `volume_path = "${kept('volumes')}"`,
      '[network]',
      `network_config_dir = "${d('net')}"`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    d('registries.conf'),
    [
      'unqualified-search-registries = []',
      ...hosts.flatMap((h) => ['', '[[registry]]', `location = "${h}"`, 'insecure = true']),
      '',
    ].join('\n'),
  );
  writeFileSync(d('policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: d('home'),
    DOCKER_CONFIG: d('home', '.docker'),
    XDG_RUNTIME_DIR: d('run'),
    XDG_CONFIG_HOME: d('home', '.config'),
    XDG_DATA_HOME: d('home', '.local', 'share'),
    XDG_CACHE_HOME: d('cache'),
    TMPDIR: d('tmp'),
    CONTAINERS_STORAGE_CONF: d('storage.conf'),
    CONTAINERS_CONF: d('containers.conf'),
    CONTAINERS_REGISTRIES_CONF: d('registries.conf'),
    REGISTRY_AUTH_FILE: authFile,
  };
  const globals = [
    '--root',
    graphRoot,
    '--runroot',
    kept('runroot'),
    '--storage-driver',
    driver,
    '--tmpdir',
    kept('tmp'),
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'none',
  ];
  const raw = (args: string[], opts: PodmanCallOptions & { input?: string } = {}): Promise<RunResult> =>
    run(PODMAN_BIN, [...globals, ...args], {
      env,
      timeout: opts.timeout ?? 90_000,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  const extra = (opts: PodmanCallOptions): string[] => opts.args ?? [];
  const policy = ['--signature-policy', d('policy.json')];

  return {
    dir,
    authFile,
    env,
    raw,
    login: (host, username, password, opts = {}) =>
      raw(
        [
          'login',
          ...extra(opts),
          '--authfile',
          authFile,
          '--tls-verify=false',
          '--username',
          username,
          '--password-stdin',
          host,
        ],
        { ...opts, input: `${password}\n` },
      ),
    logout: (host, opts = {}) => raw(['logout', ...extra(opts), '--authfile', authFile, host], opts),
    pullOci: (ociDir, tag, opts = {}) =>
      raw(['pull', ...extra(opts), ...policy, '--quiet', `oci:${ociDir}:${tag}`], opts),
    tag: (src, dest, opts = {}) => raw(['tag', ...extra(opts), src, dest], opts),
    push: async (image, dest, opts = {}) => {
      const digestFile = d('tmp', `digest-${Date.now()}-${Math.random().toString(36).slice(2)}`);
      const r = await raw(
        [
          'push',
          ...extra(opts),
          ...policy,
          '--authfile',
          authFile,
          '--tls-verify=false',
          '--digestfile',
          digestFile,
          image,
          `docker://${dest}`,
        ],
        opts,
      );
      if (r.code !== 0) return r;
      let digest: string | undefined;
      try {
        digest = readFileSync(digestFile, 'utf8').trim();
      } catch {
        digest = undefined;
      }
      return digest === undefined ? r : { ...r, digest };
    },
    pull: (ref, opts = {}) =>
      raw(
        ['pull', ...extra(opts), ...policy, '--authfile', authFile, '--tls-verify=false', '--quiet', ref],
        opts,
      ),
    rmi: (image, opts = {}) => raw(['rmi', ...extra(opts), '--force', image], opts),
    inspect: (image, format, opts = {}) =>
      raw(['image', 'inspect', ...extra(opts), '--format', format, image], opts),
    cleanup: async () => {
      // vfs layers are plain directories; nothing is mounted. Remove the whole tree. A kept
      // graph root lives outside it; its containers are the caller's to remove.
      if (storage) await raw(['unmount', '--all'], { timeout: 30_000 });
      removeDir(dir);
    },
  };
}
