/**
 * @purser/kube: `purser kube-controller`, the pull-secret controller (see HELP and
 * docs/kube-controller.md). `runKubeController(args, io)` is what the purser CLI calls;
 * `Controller` runs in-process (tests, embedding).
 */
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Controller } from './controller.js';
import { KubeControllerError } from './errors.js';
import { jsonLogger } from './log.js';
import { type ControllerOptions, HELP, parseOptions } from './options.js';

export { Controller } from './controller.js';
export { KubeControllerError, type KubeControllerErrorCode } from './errors.js';
export { jsonLogger, type Logger } from './log.js';
export { type ControllerOptions, HELP, parseOptions } from './options.js';
export { dockerConfigJson, secretNameFor } from './pull-secret.js';
export { refreshDelayMs } from './schedule.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ControllerIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT by default). */
  stopSignal?: Promise<void>;
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else {
      if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(`${SA_DIR}/token`))
        throw new Error(
          'not running in a cluster (no KUBERNETES_SERVICE_HOST or service account token): pass --kubeconfig',
        );
      kc.loadFromCluster();
    }
  } catch (e) {
    throw new KubeControllerError(
      'KUBECONFIG',
      `cannot load ${path ? `kubeconfig ${path}` : 'the in-cluster config'}: ${(e as Error).message}`,
    );
  }
  if (!kc.getCurrentCluster())
    throw new KubeControllerError('KUBECONFIG', `kubeconfig ${path}: no current cluster`);
  return kc;
}

function podNamespace(): string | undefined {
  try {
    return readFileSync(`${SA_DIR}/namespace`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function signals(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}

/** Runs until stopped; the exit code (0 stopped, 2 usage, 1 failure). Never prints a token. */
export async function runKubeController(args: string[], io: ControllerIo): Promise<number> {
  let o: ControllerOptions | undefined;
  try {
    o = parseOptions(args, process.env, podNamespace());
  } catch (e) {
    if (e instanceof KubeControllerError) {
      io.stderr(`purser kube-controller: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (!o) {
    io.stdout(HELP);
    return 0;
  }
  const log = jsonLogger(io.stderr, o.logLevel);
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(o.kubeconfig);
  } catch (e) {
    io.stderr(`purser kube-controller: ${(e as Error).message}\n`);
    return 1;
  }
  const c = new Controller(kc, o, log);
  const stop = io.stopSignal ?? signals();
  await c.start();
  await stop;
  log('info', 'stopping');
  await c.stop();
  return 0;
}
