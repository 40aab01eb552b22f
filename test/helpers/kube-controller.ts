// Runs @purser/kube's controller in-process against the kube-api double, as one replica with its
// own API user (so faults and records tell replicas apart), its log lines kept.
import { Controller, jsonLogger, loadKubeConfig, parseOptions } from '../../kube/src/index.js';
import type { KubeApi } from './kube-api/index.js';

export const KC_REGISTRY = 'registry.kube.test:5000';
export const KC_SERVICE = 'registry.kube.test';

export interface Replica {
  controller: Controller;
  user: string;
  lines: string[];
  stop(): Promise<void>;
}

/** Fast election timings for tests: a 2 s Lease, renewed every 200 ms, 1.5 s renew deadline. */
export const FAST_LEASE = ['--lease-duration', '2s', '--renew-deadline', '1500ms', '--retry-period', '200ms'];

export async function startReplica(
  api: KubeApi,
  dir: string,
  user: string,
  flags: string[] = [],
): Promise<Replica> {
  try {
    api.tokenOf(user);
  } catch {
    api.addUser(user);
  }
  const kubeconfig = api.writeKubeconfig(dir, { user });
  const o = parseOptions([
    '--kubeconfig',
    kubeconfig,
    '--registry',
    KC_REGISTRY,
    '--service',
    KC_SERVICE,
    '--metrics-port',
    '0',
    '--metrics-address',
    '127.0.0.1',
    '--lease-namespace',
    'kube-system',
    '--identity',
    user,
    ...FAST_LEASE,
    ...flags,
  ]);
  if (!o) throw new Error('--help?');
  const lines: string[] = [];
  const controller = new Controller(
    loadKubeConfig(kubeconfig),
    o,
    jsonLogger((l) => lines.push(l), 'debug'),
  );
  await controller.start();
  return { controller, user, lines, stop: () => controller.stop() };
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
