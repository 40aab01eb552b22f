// `purser kube-controller`: the pull-secret controller lives in its own package, @purser/kube
// (it brings @kubernetes/client-node, which the token server does not need), loaded on demand.
import type { CommandIo } from './usage.js';

/** The package's entry point, as this command uses it. */
interface KubeModule {
  runKubeController(
    args: string[],
    io: { stdout: (s: string) => void; stderr: (s: string) => void },
  ): Promise<number>;
}

/** A variable, so the server compiles (and installs) without the package. */
const PACKAGE = '@purser/kube';

export async function loadKubeModule(specifier = PACKAGE): Promise<KubeModule | undefined> {
  try {
    return (await import(specifier)) as KubeModule;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Only the package itself missing; a broken install's own errors are reported as they are.
    if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`'${specifier}'`)) return undefined;
    throw e;
  }
}

export async function kubeControllerCommand(
  args: string[],
  io: CommandIo,
  specifier = PACKAGE,
): Promise<number> {
  const mod = await loadKubeModule(specifier);
  if (!mod) {
    io.stderr(
      `purser kube-controller: the controller is in the ${specifier} package, which is not installed: npm install ${specifier} (it must resolve from purser's own folder)\n`,
    );
    return 1;
  }
  return mod.runKubeController(args, { stdout: io.stdout, stderr: io.stderr });
}
