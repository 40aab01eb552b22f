import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { kubeletSetup } from '../../../src/cli/kubelet-setup.js';
import type { Config } from '../../../src/config/load.js';

function config(
  providers: { name: string; preset?: 'kubernetes' | 'gitlab'; audiences: string[] }[],
): Config {
  return {
    token: { services: ['registry.example.com'] },
    providers: providers.map((p) => ({ issuer: 'https://kubernetes.default.svc', ...p })),
  } as unknown as Config;
}

describe('doctor: kubelet set-up for a kubernetes provider', () => {
  test('prints a CredentialProviderConfig and RBAC the kubelet and API server accept', () => {
    const out = kubeletSetup(
      config([{ name: 'k8s-prod', preset: 'kubernetes', audiences: ['purser-aud'] }]),
      'reg.example:5000',
    );
    const docs = parseAllDocuments(out).map((d) => d.toJS());
    assert.equal(docs.length, 3);
    const [cpc, role, binding] = docs;
    assert.equal(cpc.apiVersion, 'kubelet.config.k8s.io/v1');
    assert.equal(cpc.kind, 'CredentialProviderConfig');
    assert.deepEqual(cpc.providers, [
      {
        name: 'purser-credential-provider',
        apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
        matchImages: ['reg.example:5000'],
        defaultCacheDuration: '10m',
        args: ['--registry', 'reg.example:5000', '--provider', 'k8s-prod'],
        tokenAttributes: {
          serviceAccountTokenAudience: 'purser-aud',
          cacheType: 'Token',
          requireServiceAccount: true,
        },
      },
    ]);
    assert.equal(role.kind, 'ClusterRole');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['purser-aud'], verbs: ['request-serviceaccounts-token-audience'] },
    ]);
    assert.equal(binding.kind, 'ClusterRoleBinding');
    assert.equal(binding.roleRef.name, role.metadata.name);
    assert.deepEqual(binding.subjects, [
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' },
    ]);
  });

  test('the default provider name needs no --provider; without --registry the service stands in', () => {
    const out = kubeletSetup(
      config([{ name: 'kubernetes', preset: 'kubernetes', audiences: ['a'] }]),
      undefined,
    );
    const cpc = parseAllDocuments(out)[0]!.toJS();
    assert.deepEqual(cpc.providers[0].args, ['--registry', 'registry.example.com']);
    assert.match(out, /token\.services\[0\]; pass --registry URL/);
  });

  test('nothing for a config without a kubernetes provider', () => {
    assert.equal(kubeletSetup(config([{ name: 'gl', preset: 'gitlab', audiences: ['a'] }]), undefined), '');
  });
});
