// The fixture every upstream mode's skopeo suite starts from: a proxy stack, an isolated
// skopeo, two fresh OCI images, and output directories cleaned up afterwards.
import { after, before } from 'node:test';
import type { LogSource } from './logs.js';
import { buildOciImage, type OciImage } from './oci.js';
import { type ProxyStack, startProxyStack } from './proxy.js';
import { createSkopeo, type Skopeo } from './skopeo.js';
import { makeTempDir, removeDir } from './tmp.js';

export interface SkopeoProxyFixture {
  readonly st: ProxyStack;
  readonly sk: Skopeo;
  readonly img: OciImage;
  readonly img2: OciImage;
  /** Log sources for withLogs. */
  logs: () => (LogSource | undefined)[];
  /** `docker://HOST/repo` through the proxy. */
  docker: (repo: string) => string;
  /** A new output directory, removed after the suite. */
  outDir: () => string;
}

/** Registers before/after hooks in the calling describe block. */
export function skopeoProxyFixture(upstream: 'none' | 'basic' | 'token'): SkopeoProxyFixture {
  let st: ProxyStack | undefined;
  let sk: Skopeo | undefined;
  let img: OciImage | undefined;
  let img2: OciImage | undefined;
  const dirs: string[] = [];

  before(async () => {
    sk = createSkopeo();
    img = await buildOciImage({ tag: 'v1' });
    img2 = await buildOciImage({ tag: 'v1' });
    dirs.push(img.dir, img2.dir);
    st = await startProxyStack({ upstream });
  });
  after(async () => {
    await st?.stop();
    sk?.cleanup();
    for (const d of dirs) removeDir(d);
  });

  return {
    get st() {
      return st!;
    },
    get sk() {
      return sk!;
    },
    get img() {
      return img!;
    },
    get img2() {
      return img2!;
    },
    logs: () => st?.logSources() ?? [],
    docker: (repo) => `docker://${st!.host}/${repo}`,
    outDir: () => {
      const d = makeTempDir('purser-oci-out-');
      dirs.push(d);
      return d;
    },
  };
}
