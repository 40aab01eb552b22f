// `purser kube-controller` flags.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from './duration.js';
import { KubeControllerError } from './errors.js';

export const HELP = `Usage: purser kube-controller --registry HOST --service NAME [options]

The pull-secret controller, for clusters before Kubernetes 1.34 (or where the kubelet's
credential provider cannot be configured). For each opted-in ServiceAccount it asks the API
server for a short-lived token (TokenRequest, audience = the registry service, bound to the
Secret it writes), writes it as a kubernetes.io/dockerconfigjson Secret owned by the
ServiceAccount, adds that Secret to the ServiceAccount's imagePullSecrets (entries set by
users are left alone), and refreshes it at about half its remaining life. Opting out (or
deleting the ServiceAccount) removes both. Replicas elect one leader with a Lease; only the
leader writes.

Opt-in (never every ServiceAccount):
  a ServiceAccount annotated  <--annotation>: "true"
  every ServiceAccount of a namespace labelled  <--namespace-label>: "true"
  (a ServiceAccount annotated <--annotation>: "false" stays out of a labelled namespace)

Options:
  --registry HOST[:PORT]      the registry the pull secret is for (required)
  --service NAME              the token audience: Purser's kubernetes provider's audience,
                              usually the registry service (required)
  --provider NAME             the username Purser knows the Kubernetes provider by
                              (default kubernetes)
  --annotation KEY            the opt-in ServiceAccount annotation (default purser.dev/pull-secret)
  --namespace-label KEY       the opt-in namespace label (default purser.dev/pull-secrets)
  --token-expiration DUR      expirationSeconds asked for (default 1h, at least 10m; the API
                              server may grant less: refreshes follow what it grants)
  --kubeconfig FILE           a kubeconfig (default: the in-cluster service account)
  --lease-namespace NS        the Lease's namespace (default: the pod's namespace, else default)
  --lease-name NAME           the Lease's name (default purser-kube-controller)
  --lease-duration DUR        how long a leader's Lease lasts unrenewed (default 15s)
  --renew-deadline DUR        a leader that cannot renew within this stops writing (default 10s)
  --retry-period DUR          between acquire/renew attempts (default 2s)
  --identity ID               this replica's Lease holder identity (default: hostname + random)
  --relist-interval DUR       full relist of every watch, and so a resync of every
                              ServiceAccount (default 10m)
  --metrics-port PORT         /metrics and /healthz (default 8080; 0: any free port)
  --metrics-address ADDR      the address they listen on (default 0.0.0.0)
  --log-level LEVEL           debug, info, warn or error (default info)
  -h, --help                  this text

Exit codes: 0 after SIGTERM/SIGINT (the Lease is released), 2 bad usage, 1 other failure.
`;

export interface ControllerOptions {
  registry: string;
  service: string;
  provider: string;
  annotation: string;
  namespaceLabel: string;
  tokenExpirationSeconds: number;
  kubeconfig: string | undefined;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  relistIntervalMs: number;
  metricsPort: number;
  metricsAddress: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

const FLAGS = {
  registry: { type: 'string' },
  service: { type: 'string' },
  provider: { type: 'string' },
  annotation: { type: 'string' },
  'namespace-label': { type: 'string' },
  'token-expiration': { type: 'string' },
  kubeconfig: { type: 'string' },
  'lease-namespace': { type: 'string' },
  'lease-name': { type: 'string' },
  'lease-duration': { type: 'string' },
  'renew-deadline': { type: 'string' },
  'retry-period': { type: 'string' },
  identity: { type: 'string' },
  'relist-interval': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-address': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (msg: string) => new KubeControllerError('USAGE', msg);
/** A qualified name (annotation and label keys): optional DNS prefix, '/', a name. */
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** `undefined` for --help. */
export function parseOptions(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  podNamespace?: string,
): ControllerOptions | undefined {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw usage((e as Error).message);
  }
  if (v.help) return undefined;
  const s = (k: keyof typeof FLAGS) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const registry = s('registry');
  if (!registry) throw usage('--registry HOST is required');
  if (!HOST.test(registry)) throw usage(`--registry: not a HOST[:PORT]: ${JSON.stringify(registry)}`);
  const service = s('service');
  if (!service) throw usage('--service NAME is required (the token audience)');
  const key = (flag: 'annotation' | 'namespace-label', def: string) => {
    const k = s(flag) ?? def;
    if (!KEY.test(k) || k.length > 316) throw usage(`--${flag}: not a Kubernetes key: ${JSON.stringify(k)}`);
    return k;
  };
  const dur = (flag: keyof typeof FLAGS, def: string) => parseDuration(flag, s(flag) ?? def);
  const tokenMs = dur('token-expiration', '1h');
  if (tokenMs < 600_000) throw usage('--token-expiration: at least 10m (the API server refuses less)');
  const leaseDurationMs = dur('lease-duration', '15s');
  const renewDeadlineMs = dur('renew-deadline', '10s');
  const retryPeriodMs = dur('retry-period', '2s');
  if (!(renewDeadlineMs < leaseDurationMs))
    throw usage('--renew-deadline must be shorter than --lease-duration');
  if (!(retryPeriodMs < renewDeadlineMs)) throw usage('--retry-period must be shorter than --renew-deadline');
  const portText = s('metrics-port') ?? '8080';
  const metricsPort = Number(portText);
  if (!/^\d+$/.test(portText) || metricsPort > 65535)
    throw usage(`--metrics-port: not a port: ${JSON.stringify(portText)}`);
  const leaseNamespace = s('lease-namespace') ?? podNamespace ?? env.POD_NAMESPACE ?? 'default';
  const leaseName = s('lease-name') ?? 'purser-kube-controller';
  for (const [flag, name] of [
    ['lease-namespace', leaseNamespace],
    ['lease-name', leaseName],
  ] as const)
    if (!DNS_NAME.test(name) || name.length > 253)
      throw usage(`--${flag}: not a Kubernetes name: ${JSON.stringify(name)}`);
  const logLevel = s('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    throw usage(`--log-level: one of debug, info, warn, error`);
  const provider = s('provider') ?? 'kubernetes';
  if (provider.includes(':') || provider === '')
    throw usage('--provider: a non-empty name without ":" (it is a Basic username)');
  return {
    registry,
    service,
    provider,
    annotation: key('annotation', 'purser.dev/pull-secret'),
    namespaceLabel: key('namespace-label', 'purser.dev/pull-secrets'),
    tokenExpirationSeconds: Math.ceil(tokenMs / 1000),
    kubeconfig: s('kubeconfig'),
    leaseNamespace,
    leaseName,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    identity: s('identity') ?? `${hostname()}_${Math.random().toString(36).slice(2, 10)}`,
    relistIntervalMs: dur('relist-interval', '10m'),
    metricsPort,
    metricsAddress: s('metrics-address') ?? '0.0.0.0',
    logLevel: logLevel as ControllerOptions['logLevel'],
  };
}
