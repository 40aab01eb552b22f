// The kubelet credential provider as the single executable (dist/purser-credential-provider),
// built by `npm run build:credential-provider` (cached: a current build is reused) and run the
// way the kubelet runs it: spawned directly, request on stdin, with no node on PATH.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.js';

export const PROVIDER_EXECUTABLE = join(repoRoot, 'dist', 'purser-credential-provider');

let built: Promise<string> | undefined;

/** Builds the executable once per test process (the script skips a build that is current). */
export function buildProvider(): Promise<string> {
  built ??= promisify(execFile)(
    process.execPath,
    [join(repoRoot, 'scripts', 'build-credential-provider.js')],
    {
      cwd: repoRoot,
      timeout: 120_000,
    },
  ).then(() => PROVIDER_EXECUTABLE);
  return built;
}

/** An empty directory: PATH for the provider, so nothing (node included) can be found on it. */
const emptyPath = mkdtempSync(join(tmpdir(), 'purser-no-node-'));

export interface ProviderRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the executable with `args`, writing `stdin`, with PATH holding nothing. */
export function runProviderExecutable(args: string[], stdin: string): Promise<ProviderRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROVIDER_EXECUTABLE, args, {
      env: { PATH: emptyPath, HOME: emptyPath },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 60_000, // the kubelet's own hard limit
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // an early exit may close stdin before all is written
    child.stdin.end(stdin);
  });
}

/** The request exactly as the kubelet marshals it (omitempty fields left out when absent). */
export function kubeletRequest(
  image: string,
  serviceAccountToken?: string,
  annotations?: Record<string, string>,
): string {
  return JSON.stringify({
    apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
    kind: 'CredentialProviderRequest',
    image,
    ...(serviceAccountToken ? { serviceAccountToken } : {}),
    ...(annotations ? { serviceAccountAnnotations: annotations } : {}),
  });
}
