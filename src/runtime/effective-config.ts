import { resolve } from 'node:path';
import { type Config, readConfigDocument, readKubernetesSection } from '../config/load.js';
import { blameOverlay, loadConfigSecretsSource, loadLayeredConfig } from './config-overlays.js';
import { OverlayFeed } from './overlay-feed.js';

/**
 * The configuration `serve` would start with from `file`: the file, and when it sets
 * kubernetes.configSecrets, the matching Secrets merged over it (read once, not watched).
 * For the commands that explain or check a configuration (check, test, doctor): what they
 * judge is what serve applies, a signing key or a user kept in a Secret included. A refusal
 * names the Secret at fault, as serve's does. `fileOnly`: the file alone (away from the
 * cluster, say).
 */
export async function loadEffectiveConfig(file: string, fileOnly = false): Promise<Readonly<Config>> {
  const doc = readConfigDocument(resolve(file));
  const kube = readKubernetesSection(file, doc);
  if (fileOnly || !kube?.configSecrets) return loadLayeredConfig(file, [], doc);
  const { namespace, labelSelector } = kube.configSecrets;
  const feed = await OverlayFeed.start(await loadConfigSecretsSource(file, { namespace, labelSelector }));
  try {
    return loadLayeredConfig(file, feed.list, doc);
  } catch (caught) {
    throw await blameOverlay(caught, file, feed.list);
  } finally {
    await feed.close();
  }
}
