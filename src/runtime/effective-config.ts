import { resolve } from 'node:path';
import { type Config, readConfigDocument, readKubernetesSection } from '../config/load.js';
import { blameOverlay, loadConfigSecretsSource, loadLayeredConfig } from './config-overlays.js';
import { OverlayFeed } from './overlay-feed.js';

export interface EffectiveConfigOptions {
  /** The file alone, without its Secrets (away from the cluster, say). */
  fileOnly?: boolean;
  /** The Secrets' watch failed and restarts after `retryInMs` (never with a Secret's data). */
  onWatchError?: (e: { namespace: string; labelSelector: string; error: string; retryInMs: number }) => void;
}

/**
 * The configuration `serve` starts with from `file`: the file (parsed once, for its
 * `kubernetes:` section and the rest), and when it sets kubernetes.configSecrets, the matching
 * Secrets merged over it. `feed` is their watch, left open for the caller to follow and
 * close (serve); undefined without Secrets. A refusal names the Secret at fault.
 */
export async function openEffectiveConfig(
  file: string,
  options: EffectiveConfigOptions = {},
): Promise<{ config: Readonly<Config>; feed: OverlayFeed | undefined }> {
  const doc = readConfigDocument(resolve(file));
  const kube = readKubernetesSection(file, doc);
  if (options.fileOnly || !kube?.configSecrets)
    return { config: loadLayeredConfig(file, [], doc), feed: undefined };
  const { namespace, labelSelector } = kube.configSecrets;
  const { onWatchError } = options;
  const source = await loadConfigSecretsSource(file, {
    namespace,
    labelSelector,
    ...(onWatchError
      ? { onWatchError: (error, retryInMs) => onWatchError({ namespace, labelSelector, error, retryInMs }) }
      : {}),
  });
  const feed = await OverlayFeed.start(source);
  try {
    return { config: loadLayeredConfig(file, feed.list, doc), feed };
  } catch (caught) {
    await feed.close();
    throw await blameOverlay(caught, file, feed.list);
  }
}

/**
 * The same configuration, its Secrets read once: for the commands that explain or check a
 * configuration (check, test, doctor), so that what they judge is what serve applies, a
 * signing key or a user kept in a Secret included.
 */
export async function loadEffectiveConfig(file: string, fileOnly = false): Promise<Readonly<Config>> {
  const { config, feed } = await openEffectiveConfig(file, { fileOnly });
  await feed?.close();
  return config;
}
