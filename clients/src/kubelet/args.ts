// purser-credential-provider's flags (SPEC §8). Registry endpoints come only from here: never
// from the request's image or the service account's annotations.
import { HelperError } from '../errors.js';
import { parseGoDuration } from './duration.js';
import { registryPatternProblem } from './registry-match.js';

export interface ProviderOptions {
  /** HOST[:PORT] patterns (globs per host label) the provider answers for. */
  registries: string[];
  /** Basic username Purser knows its Kubernetes provider by. */
  provider: string;
  /** Upper bound of cacheDuration, in seconds. */
  maxCacheSeconds: number;
}

export type ParsedArgs = { help: true } | ({ help: false } & ProviderOptions);

export const USAGE = `Usage: purser-credential-provider --registry HOST[:PORT] [--registry …] [--provider NAME] [--max-cache DURATION]

A kubelet image credential provider (credentialprovider.kubelet.k8s.io/v1). Reads a
CredentialProviderRequest on stdin and, for an image of one of the --registry hosts, answers
with the pod's service account token as the password (pass-through: Purser verifies it with
its kubernetes provider). Configure tokenAttributes in the kubelet's CredentialProviderConfig.

  --registry HOST[:PORT]  a registry to answer for; repeatable; * globs within host labels
  --provider NAME         the Basic username (Purser's provider name); default kubernetes
  --max-cache DURATION    the longest cacheDuration to answer (Go duration); default 1h
  --help                  this text

Any failure prints one line on stderr and exits 1; the kubelet then pulls without credentials.
`;

const usageError = (msg: string) => new HelperError('CONFIG_INVALID', `${msg} (see --help)`);

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const registries: string[] = [];
  let provider = 'kubernetes';
  let maxCacheSeconds = 3600;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { help: true };
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined;
    if (name !== arg) value = arg.slice(eq + 1);
    else if (['--registry', '--provider', '--max-cache'].includes(arg)) {
      value = argv[++i];
      if (value === undefined) throw usageError(`${arg} needs a value`);
    }
    switch (name) {
      case '--registry': {
        const r = (value as string).toLowerCase();
        const why = registryPatternProblem(r);
        if (why) throw usageError(`--registry ${JSON.stringify(value)}: ${why}`);
        registries.push(r);
        break;
      }
      case '--provider':
        if (!/^[A-Za-z0-9._-]{1,64}$/.test(value as string)) {
          throw usageError('--provider must be 1-64 characters of A-Z a-z 0-9 . _ -');
        }
        provider = value as string;
        break;
      case '--max-cache': {
        const s = parseGoDuration(value as string);
        if (s === undefined)
          throw usageError(`--max-cache ${JSON.stringify(value)} is not a Go duration (e.g. 30m, 1h)`);
        maxCacheSeconds = s;
        break;
      }
      default:
        throw usageError(`unknown argument ${JSON.stringify(arg.slice(0, 40))}`);
    }
  }
  if (registries.length === 0) throw usageError('at least one --registry is required');
  return { help: false, registries, provider, maxCacheSeconds };
}
