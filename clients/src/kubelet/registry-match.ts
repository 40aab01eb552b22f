// Which configured registry an image belongs to, by the kubelet's matchImages rules
// (k/k pkg/credentialprovider/keyring.go URLsMatch): the host compared label by label, where a
// configured label may hold `*` globs; the port compared exactly. Paths are not supported in
// --registry, so any path of the image matches.

/** The registry part of an image reference: what precedes the first `/`, when it names a host. */
export function imageRegistry(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  // Docker's rule: a first component without `.` or `:` (and not localhost) is a Hub namespace.
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return 'docker.io';
  return first;
}

interface HostPort {
  host: string;
  port: string;
}

function splitHostPort(hostPort: string): HostPort | undefined {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    if (end < 0) return undefined;
    const rest = hostPort.slice(end + 1);
    if (rest !== '' && !/^:\d+$/.test(rest)) return undefined;
    return { host: hostPort.slice(0, end + 1).toLowerCase(), port: rest.slice(1) };
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0) return { host: hostPort.toLowerCase(), port: '' };
  const port = hostPort.slice(colon + 1);
  if (!/^\d+$/.test(port)) return undefined;
  return { host: hostPort.slice(0, colon).toLowerCase(), port };
}

const LABEL = /^[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?$/;

/** Why a --registry value is not a HOST[:PORT] pattern, or undefined when it is. */
export function registryPatternProblem(pattern: string): string | undefined {
  if (pattern.includes('/')) return 'a registry is HOST[:PORT], without scheme or path';
  const hp = splitHostPort(pattern);
  if (!hp || hp.host === '') return 'not HOST[:PORT]';
  if (hp.port !== '' && (Number(hp.port) < 1 || Number(hp.port) > 65535)) return 'port out of range';
  if (hp.host.startsWith('[')) return hp.host.includes('*') ? 'no globs in an IP address' : undefined;
  return hp.host.split('.').every((l) => LABEL.test(l))
    ? undefined
    : 'not a host name (labels of a-z, 0-9, -, *)';
}

function globLabel(pattern: string, label: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
      .join('[^.]*')}$`,
  );
  return re.test(label);
}

/** Whether the image's registry `target` (HOST[:PORT]) matches the configured `pattern`. */
export function registryMatches(pattern: string, target: string): boolean {
  const p = splitHostPort(pattern);
  const t = splitHostPort(target);
  if (!p || !t || p.port !== t.port) return false;
  const pl = p.host.split('.');
  const tl = t.host.split('.');
  if (pl.length !== tl.length) return false;
  return pl.every((label, i) => globLabel(label, tl[i] as string));
}

/** The first configured pattern the image's registry matches. */
export function matchRegistry(patterns: readonly string[], image: string): string | undefined {
  const target = imageRegistry(image);
  return patterns.find((p) => registryMatches(p, target));
}
