// The Helm chart deploy/helm/purser: `helm lint`, `helm template` with the default values and
// with every option on, each rendered object validated against the Kubernetes schemas
// (kubernetes-models; the ServiceMonitor against the Prometheus Operator's CRD schema), the
// restricted Pod Security Standard on the server and controller pods, the rollout checksums,
// and the credential-provider drop-in driving the real plugin with the args the chart wrote.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { assertOk } from '../helpers/assert.js';
import { createHelm, type Helm, helmBinary } from '../helpers/helm.js';
import { purserBin, repoRoot } from '../helpers/paths.js';
import { describeRun, run } from '../helpers/proc.js';
import { generateKeys } from '../helpers/purser.js';

const CHART = join(repoRoot, 'deploy', 'helm', 'purser');
const NS = 'registry-auth';
const bin = await helmBinary();
const skip = typeof bin === 'string' ? false : `no helm binary: ${bin.skip}`;

// Every kind the chart may render, with its schema. A new kind fails the test until added here.
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
type Obj = any;

const PEM_KEY =
  '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----';
const PEM_CRT = '-----BEGIN CERTIFICATE-----\nMIIBfTCCASOgAwIBAgIU\n-----END CERTIFICATE-----';

const ALL_ON = {
  configAsSecret: true,
  signingKeys: { key: PEM_KEY, certificate: PEM_CRT },
  podDisruptionBudget: { maxUnavailable: 1 },
  serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
  configSecrets: { enabled: true, namespace: 'purser-config' },
  controller: { enabled: true, registry: 'registry.example.com:5000', leaseNamespace: 'purser-leases' },
  credentialProvider: {
    enabled: true,
    registries: ['registry.example.com', '*.registry.example.com'],
    serviceAccounts: ['image-builder'],
    optionalServiceAccountAnnotationKeys: ['purser.io/role'],
  },
};

describe('Helm chart deploy/helm/purser', { timeout: 180_000, skip }, () => {
  let helm: Helm | undefined;
  let n = 0;
  const valuesFile = (values: object): string => {
    const f = join(helm!.dir, `values-${n++}.yaml`);
    writeFileSync(f, stringify(values));
    return f;
  };
  const template = async (values: object = {}): Promise<Obj[]> => {
    const r = await helm!.run(['template', 'purser', CHART, '--namespace', NS, '-f', valuesFile(values)]);
    assertOk(r, 'helm template');
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Obj)
      .filter((o) => o !== null);
  };
  const find = (objs: Obj[], kind: string, name?: string): Obj => {
    const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
    assert.ok(o, `no ${kind} ${name ?? ''} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
    return o;
  };
  const validateAll = (objs: Obj[]): void => {
    for (const o of objs) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}: add it to MODELS`);
      assert.doesNotThrow(() => new Model(o as never).validate(), `${o.kind}/${o.metadata?.name} is invalid`);
    }
  };

  before(() => {
    helm = createHelm(bin as string);
  });
  after(() => helm?.cleanup());

  test('helm lint passes with the default values and with every option on', async () => {
    assertOk(await helm!.run(['lint', '--strict', CHART]), 'helm lint');
    assertOk(await helm!.run(['lint', '--strict', CHART, '-f', valuesFile(ALL_ON)]), 'helm lint (all on)');
  });

  test('the defaults render a valid server: 2 replicas, a policy/v1 PDB over its pods, a Service, probes', async () => {
    const objs = await template();
    validateAll(objs);
    assert.deepEqual(objs.map((o) => o.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    const dep = find(objs, 'Deployment');
    assert.ok(dep.spec.replicas >= 2);
    const pdb = find(objs, 'PodDisruptionBudget');
    assert.equal(pdb.apiVersion, 'policy/v1');
    assert.equal(pdb.spec.minAvailable, 1);
    const podLabels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
    for (const [k, v] of Object.entries(find(objs, 'Service').spec.selector)) assert.equal(podLabels[k], v);
    const c = dep.spec.template.spec.containers[0];
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.deepEqual(c.args, ['serve', '--config', '/etc/purser/config/purser.yml']);
    // The config file: the inline config with listen filled in; the keys from existingSecret.
    const cfg = parse(find(objs, 'ConfigMap').data['purser.yml']);
    assert.equal(cfg.listen, '0.0.0.0:5001');
    // One worker per pod unless asked (a pod without a CPU limit would start one per node CPU).
    assert.equal(cfg.workers, 1);
    assert.equal(cfg.token.key, '/etc/purser/keys/token.key');
    const keys = dep.spec.template.spec.volumes.find((v: Obj) => v.name === 'signing-keys');
    assert.equal(keys.secret.secretName, 'purser-signing-keys');
  });

  test('workers: the value, unless the config sets it; null leaves it to the CPU limit', async () => {
    const cfgOf = async (values: object) =>
      parse(find(await template(values), 'ConfigMap').data['purser.yml']);
    assert.equal((await cfgOf({ workers: 3 })).workers, 3);
    assert.equal((await cfgOf({ workers: 3, config: { workers: 2 } })).workers, 2);
    assert.equal(Object.hasOwn(await cfgOf({ workers: null }), 'workers'), false);
  });

  test('the schema check is not vacuous: a wrongly typed value makes an invalid Deployment', async () => {
    const objs = await template({ replicaCount: 'two' });
    assert.throws(() => validateAll(objs), /Deployment\/purser is invalid/);
  });

  test('the config file the defaults render is one Purser loads (purser doctor)', async () => {
    const keys = await generateKeys(join(helm!.dir, 'keys'), 'ES256');
    // The same values with the key paths where this test has them (the pod mounts them at /etc/purser/keys).
    const objs = await template({ config: { token: { key: keys.key, certificate: keys.crt } } });
    const file = join(helm!.dir, 'purser.yml');
    writeFileSync(file, find(objs, 'ConfigMap').data['purser.yml']);
    const r = await run(process.execPath, [purserBin, 'doctor', '--config', file], { timeout: 60_000 });
    assertOk(r, 'purser doctor');
    assert.match(r.stdout, /libtrust kid/);
  });

  test('every option on renders valid objects: ServiceMonitor, controller and its RBAC, the installer DaemonSet', async () => {
    const objs = await template(ALL_ON);
    validateAll(objs);
    const kinds = new Set(objs.map((o) => `${o.kind}/${o.metadata.name}`));
    for (const k of [
      'Secret/purser-config',
      'Secret/purser-signing-keys',
      'ServiceMonitor/purser',
      'Role/purser-config-secrets',
      'Deployment/purser-controller',
      'ClusterRole/purser-controller',
      'Role/purser-controller-leader',
      'DaemonSet/purser-credential-provider',
      'ClusterRole/purser-credential-provider-audience',
      'ClusterRoleBinding/purser-credential-provider-audience',
    ])
      assert.ok(kinds.has(k), `${k} missing from ${[...kinds].join(', ')}`);
    assert.equal(find(objs, 'PodDisruptionBudget').spec.maxUnavailable, 1);

    // Config from Secrets: the config names the source, and a Role there lets Purser read them.
    const cfg = parse(find(objs, 'Secret', 'purser-config').stringData['purser.yml']);
    assert.deepEqual(cfg.kubernetes.configSecrets, {
      namespace: 'purser-config',
      labelSelector: 'purser.io/config=true',
    });
    const cfgRole = find(objs, 'Role', 'purser-config-secrets');
    assert.equal(cfgRole.metadata.namespace, 'purser-config');
    assert.deepEqual(cfgRole.rules, [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
    ]);
    assert.equal(find(objs, 'Deployment', 'purser').spec.template.spec.automountServiceAccountToken, true);

    // The controller: in-cluster flags and the RBAC it needs, no more.
    const ctl = find(objs, 'Deployment', 'purser-controller').spec.template.spec;
    assert.deepEqual(ctl.containers[0].args, [
      'kube-controller',
      '--registry',
      'registry.example.com:5000',
      '--service',
      'registry.example.com:5000',
      '--provider',
      'kubernetes',
      '--lease-namespace',
      'purser-leases',
    ]);
    assert.equal(ctl.serviceAccountName, 'purser-controller');
    const rules = find(objs, 'ClusterRole', 'purser-controller').rules as Obj[];
    const verbs = (res: string): string[] =>
      rules.filter((r) => r.resources.includes(res)).flatMap((r) => r.verbs);
    assert.deepEqual(verbs('serviceaccounts'), ['get', 'list', 'watch', 'update', 'patch']);
    assert.deepEqual(verbs('serviceaccounts/token'), ['create']);
    assert.deepEqual(verbs('secrets'), ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);
    assert.ok(verbs('events').includes('create'));
    const lease = find(objs, 'Role', 'purser-controller-leader');
    assert.equal(lease.metadata.namespace, 'purser-leases');
    assert.deepEqual(lease.rules[0], {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'create', 'update'],
    });

    // Nodes may request tokens for the audience (ServiceAccountNodeAudienceRestriction).
    const aud = find(objs, 'ClusterRole', 'purser-credential-provider-audience');
    assert.deepEqual(aud.rules, [
      {
        apiGroups: [''],
        resources: ['registry.example.com'],
        verbs: ['request-serviceaccounts-token-audience'],
        resourceNames: ['image-builder'],
      },
    ]);
    assert.deepEqual(find(objs, 'ClusterRoleBinding', 'purser-credential-provider-audience').subjects, [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' },
    ]);
  });

  test('server and controller pods meet the restricted Pod Security Standard; the installer is root without capabilities', async () => {
    const objs = await template(ALL_ON);
    for (const name of ['purser', 'purser-controller']) {
      const spec = find(objs, 'Deployment', name).spec.template.spec;
      assert.equal(spec.securityContext.runAsNonRoot, true, name);
      assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault', name);
      assert.ok(spec.securityContext.runAsUser > 0, name);
      for (const c of spec.containers) {
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, name);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, name);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], name);
        assert.ok(!c.securityContext.privileged, name);
        const tmp = c.volumeMounts.find((m: Obj) => m.mountPath === '/tmp');
        assert.ok(tmp, `${name}: no /tmp mount`);
        assert.ok(
          spec.volumes.find((v: Obj) => v.name === tmp.name).emptyDir,
          `${name}: /tmp is not an emptyDir`,
        );
      }
      for (const v of spec.volumes) assert.ok(!v.hostPath, `${name}: hostPath volume`);
    }
    const ds = find(objs, 'DaemonSet').spec.template.spec;
    assert.equal(ds.securityContext.seccompProfile.type, 'RuntimeDefault');
    for (const c of [...ds.initContainers, ...ds.containers]) {
      assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
      assert.ok(!c.securityContext.privileged, c.name);
    }
    assert.equal(ds.containers[0].securityContext.runAsNonRoot, true, 'the idle container is not root');
    // An override that weakens the server's context is refused at render time.
    const weak = await helm!.run([
      'template',
      'purser',
      CHART,
      '-f',
      valuesFile({ securityContext: { allowPrivilegeEscalation: true, readOnlyRootFilesystem: true } }),
    ]);
    assert.notEqual(weak.code, 0, describeRun(weak));
    assert.match(weak.stderr, /restricted Pod Security Standard/);
  });

  test('the checksum annotations change with the config and the inline keys, and only with them', async () => {
    const sums = async (values: object): Promise<Record<string, string>> => {
      const a = find(await template(values), 'Deployment', 'purser').spec.template.metadata.annotations;
      return { config: a['checksum/config'], keys: a['checksum/signing-keys'] };
    };
    const base = await sums({});
    assert.match(base.config ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(await sums({ replicaCount: 3 }), base);
    const issuer = await sums({ config: { token: { issuer: 'other' } } });
    assert.notEqual(issuer.config, base.config);
    assert.equal(issuer.keys, base.keys);
    const keys = await sums({ signingKeys: { key: PEM_KEY, certificate: PEM_CRT } });
    assert.notEqual(keys.keys, base.keys);
    assert.equal(keys.config, base.config);
    const rotated = await sums({ signingKeys: { key: `${PEM_KEY}\n`, certificate: PEM_CRT } });
    assert.notEqual(rotated.keys, keys.keys);
  });

  test('the credential-provider drop-in is a strict CredentialProviderConfig whose args the real plugin accepts', async () => {
    const objs = await template(ALL_ON);
    const cm = find(objs, 'ConfigMap', 'purser-credential-provider');
    const conf = parse(cm.data['provider.yaml']);
    assert.equal(conf.apiVersion, 'kubelet.config.k8s.io/v1');
    assert.equal(conf.kind, 'CredentialProviderConfig');
    assert.equal(conf.providers.length, 1);
    const p = conf.providers[0];
    assert.deepEqual(Object.keys(p).sort(), [
      'apiVersion',
      'args',
      'defaultCacheDuration',
      'matchImages',
      'name',
      'tokenAttributes',
    ]);
    assert.equal(p.apiVersion, 'credentialprovider.kubelet.k8s.io/v1');
    assert.deepEqual(p.matchImages, ['registry.example.com', '*.registry.example.com']);
    assert.deepEqual(p.tokenAttributes, {
      serviceAccountTokenAudience: 'registry.example.com',
      cacheType: 'Token',
      requireServiceAccount: true,
      optionalServiceAccountAnnotationKeys: ['purser.io/role'],
    });
    // The installer writes <configDir>/<name>.yaml and the binary under <binDir>/<name>.
    assert.match(cm.data['install.sh'], /conf=\/host\/config\/purser-credential-provider\.yaml\n/);
    assert.match(cm.data['install.sh'], /bin=\/host\/bin\/purser-credential-provider\n/);
    const ds = find(objs, 'DaemonSet').spec.template.spec;
    const host = (name: string): string => ds.volumes.find((v: Obj) => v.name === name).hostPath.path;
    assert.equal(host('host-bin'), '/etc/kubernetes/credential-providers');
    assert.equal(host('host-config'), '/etc/kubernetes/credential-providers.d');

    // The kubelet runs the plugin with these args: a pod's token for a matching image comes back.
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ sub: 'system:serviceaccount:team-a:default', exp })}.c2ln`;
    const r = await run(
      process.execPath,
      [join(repoRoot, 'bin', 'purser-credential-provider.js'), ...p.args],
      {
        input: JSON.stringify({
          apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
          kind: 'CredentialProviderRequest',
          image: 'eu.registry.example.com/team-a/app:1',
          serviceAccountToken: token,
        }),
      },
    );
    assertOk(r, 'purser-credential-provider with the chart args');
    const res = JSON.parse(r.stdout);
    assert.equal(res.kind, 'CredentialProviderResponse');
    assert.deepEqual(Object.values(res.auth), [{ username: 'kubernetes', password: token }]);
  });

  test('mode file owns the whole config file and keeps the listed other providers', async () => {
    const other = {
      name: 'ecr-credential-provider',
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      matchImages: ['*.dkr.ecr.*.amazonaws.com'],
      defaultCacheDuration: '12h',
    };
    const objs = await template({
      credentialProvider: {
        enabled: true,
        mode: 'file',
        hostConfigFile: '/var/lib/kubelet/credential-providers.yaml',
        extraProviders: [other],
      },
    });
    validateAll(objs);
    const cm = find(objs, 'ConfigMap', 'purser-credential-provider');
    const conf = parse(cm.data['provider.yaml']);
    assert.deepEqual(
      conf.providers.map((p: Obj) => p.name),
      ['ecr-credential-provider', 'purser-credential-provider'],
    );
    assert.deepEqual(conf.providers[0], other);
    assert.match(cm.data['install.sh'], /conf=\/host\/config\/credential-providers\.yaml\n/);
    const ds = find(objs, 'DaemonSet').spec.template.spec;
    assert.equal(ds.volumes.find((v: Obj) => v.name === 'host-config').hostPath.path, '/var/lib/kubelet');
  });

  test('values that cannot work are refused at render time with the key at fault', async () => {
    const cases: [object, RegExp][] = [
      [{ controller: { enabled: true } }, /controller\.registry is required/],
      [
        { signingKeys: { existingSecret: '' } },
        /signingKeys: set existingSecret, or both key and certificate/,
      ],
      [{ credentialProvider: { enabled: true, mode: 'merge' } }, /credentialProvider\.mode: dropin or file/],
      [{ credentialProvider: { enabled: true, name: '../x' } }, /credentialProvider\.name/],
    ];
    for (const [values, message] of cases) {
      const r = await helm!.run(['template', 'purser', CHART, '-f', valuesFile(values)]);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, message);
    }
  });
});
