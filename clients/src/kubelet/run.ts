// One invocation of the provider, with its I/O passed in (the entry point gives the real ones).
import { HelperError } from '../errors.js';
import { parseArgs, USAGE } from './args.js';
import { matchRegistry } from './registry-match.js';
import { parseRequest } from './request.js';
import { cacheSeconds, passThroughResponse } from './response.js';

export const PROVIDER_NAME = 'purser-credential-provider';

/** The kubelet writes a few KiB; more is not a request (and must not fill memory). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export interface ProviderIo {
  readStdin(maxBytes: number): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
  now?: () => number;
}

/** Exit code 0 with the response on stdout, or 1 with one line on stderr (never the token). */
export async function runProvider(argv: readonly string[], io: ProviderIo): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.help) {
      io.stdout(USAGE);
      return 0;
    }
    const req = parseRequest(await io.readStdin(MAX_REQUEST_BYTES));
    const registry = matchRegistry(args.registries, req.image);
    if (registry === undefined) {
      throw new HelperError(
        'CONFIG_INVALID',
        `the image's registry is not among --registry ${args.registries.join(', ')}`,
      );
    }
    const token = req.serviceAccountToken;
    if (token === undefined) {
      throw new HelperError(
        'SOURCE_UNAVAILABLE',
        'no serviceAccountToken in the request: set tokenAttributes in the CredentialProviderConfig (Kubernetes 1.34 or later)',
      );
    }
    const seconds = cacheSeconds(token, args.maxCacheSeconds, io.now?.());
    io.stdout(`${JSON.stringify(passThroughResponse(registry, args.provider, token, seconds))}\n`);
    return 0;
  } catch (err) {
    const msg =
      err instanceof HelperError
        ? `${err.code}: ${err.message}`
        : `internal error: ${err instanceof Error ? err.name : 'unknown'}`;
    io.stderr(`${PROVIDER_NAME}: ${msg.replace(/[\r\n]+/g, ' ')}\n`);
    return 1;
  }
}
