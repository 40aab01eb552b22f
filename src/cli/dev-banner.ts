// What `purser serve` prints on its embedded development default: everything a first run needs,
// as commands to paste.

export interface BannerInput {
  realm: string;
  user: string;
  password: string;
  /** The state directory (absolute). */
  baseDir: string;
  /** The child registry's host:port when it runs. */
  registry?: { host: string; storage: string };
  /** Why there is no registry (no binary, or it failed to start), when there is none. */
  noRegistry?: string;
  /** The distribution 2.x auth.token block, shown when no registry runs. */
  snippet: string;
}

export const REGISTRY_HINT =
  'Get one with: apt-get install docker-registry (Debian/Ubuntu), or run the registry:2 image:';

const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

function indent(s: string, by = '    '): string {
  return s
    .split('\n')
    .map((l) => (l ? `${by}${l}` : l))
    .join('\n');
}

/** The login / push / pull commands for one registry host, for skopeo, podman and docker. */
export function clientCommands(host: string, user: string, password: string): string {
  const pw = `printf '%s\\n' ${q(password)}`;
  const image = `${host}/${user}/busybox:latest`;
  return [
    '# skopeo (plain http on 127.0.0.1: --tls-verify=false)',
    `${pw} | skopeo login --tls-verify=false -u ${user} --password-stdin ${host}`,
    `skopeo copy --dest-tls-verify=false docker://docker.io/library/busybox:latest docker://${image}`,
    `skopeo copy --src-tls-verify=false docker://${image} oci:busybox-copy:latest`,
    '',
    '# podman',
    `${pw} | podman login --tls-verify=false -u ${user} --password-stdin ${host}`,
    `podman pull docker.io/library/busybox:latest && podman tag docker.io/library/busybox:latest ${image}`,
    `podman push --tls-verify=false ${image}`,
    `podman pull --tls-verify=false ${image}`,
    '',
    '# docker: the daemon treats 127.0.0.0/8 as an insecure (plain http) registry by default;',
    `# for any other host add it to "insecure-registries" in /etc/docker/daemon.json and restart dockerd`,
    `${pw} | docker login -u ${user} --password-stdin ${host}`,
    `docker pull busybox:latest && docker tag busybox:latest ${image} && docker push ${image}`,
    `docker pull ${image}`,
  ].join('\n');
}

/** `docker run` of registry:2 with the same auth.token settings, on the host's network. */
export function registryImageCommand(
  realm: string,
  service: string,
  issuer: string,
  baseDir: string,
): string {
  return [
    `docker run --rm --network host -v ${q(baseDir)}:/purser:ro \\`,
    '  -e REGISTRY_HTTP_ADDR=127.0.0.1:5000 \\',
    `  -e REGISTRY_AUTH_TOKEN_REALM=${realm} -e REGISTRY_AUTH_TOKEN_SERVICE=${service} \\`,
    `  -e REGISTRY_AUTH_TOKEN_ISSUER=${issuer} -e REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=/purser/token.crt \\`,
    '  registry:2',
  ].join('\n');
}

export function devBanner(b: BannerInput & { service: string; issuer: string }): string {
  const lines = [
    '',
    '  Purser is running on its embedded DEVELOPMENT default. Do not use it in production:',
    '  write a config file and run: purser serve --config FILE',
    '',
  ];
  if (b.registry) lines.push(`  registry:          ${b.registry.host} (a child of Purser; stops with it)`);
  lines.push(
    `  token endpoint:    ${b.realm}`,
    `  development user:  ${b.user}`,
    `  password:          ${b.password}`,
    '  anonymous callers: pull only',
    `  state:             ${b.baseDir}${b.registry ? ` (keys, password, registry.yml; images in ${b.registry.storage})` : ''}`,
    '  reset:             stop Purser, then: rm -rf .purser',
    '',
  );
  if (b.registry) {
    lines.push(
      '  Log in, push and pull:',
      '',
      indent(clientCommands(b.registry.host, b.user, b.password)),
      '',
    );
  } else {
    lines.push(
      `  No registry is running: ${b.noRegistry ?? 'no registry binary'}.`,
      '  With docker-registry or registry on PATH (or --registry-bin PATH) Purser starts one itself.',
      `  ${REGISTRY_HINT}`,
      '',
      indent(registryImageCommand(b.realm, b.service, b.issuer, b.baseDir)),
      '',
      '  Or point your own registry at Purser, for example distribution 2.x (registry.yml):',
      '',
      indent(b.snippet),
      `  then: docker login <registry> -u ${b.user}`,
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}
