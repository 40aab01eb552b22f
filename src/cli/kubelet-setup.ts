import type { Config, ProviderConfig } from '../config/load.js';

/**
 * The node side of a `kubernetes` provider: the kubelet's CredentialProviderConfig for
 * purser-credential-provider, its flags, and the RBAC that lets nodes request the audience
 * (docs/recipes/kubernetes.md explains each part). `registryHost` is the host[:port] in the
 * pods' image names.
 */
export function kubeletSetup(config: Readonly<Config>, registryHost: string | undefined): string {
  const providers = config.providers.filter((p) => p.preset === 'kubernetes');
  return providers
    .map((p) => one(p, registryHost ?? config.token.services[0]!, registryHost === undefined))
    .join('\n');
}

function one(p: ProviderConfig, host: string, guessed: boolean): string {
  const audience = p.audiences[0]!;
  const args = ['--registry', host, ...(p.name === 'kubernetes' ? [] : ['--provider', p.name])];
  const rbacName = `purser-audience-${p.name}`;
  return (
    `# Kubernetes provider ${p.name} (issuer ${p.issuer}): image pulls by the kubelet, Kubernetes 1.34+\n` +
    (guessed
      ? `# the registry host below is token.services[0]; pass --registry URL if pods name images by another host\n`
      : '') +
    '# kubelet flags:\n' +
    '#   --image-credential-provider-config=/etc/kubernetes/credential-providers.yaml\n' +
    '#   --image-credential-provider-bin-dir=/etc/kubernetes/credential-providers  (holds purser-credential-provider)\n' +
    '# /etc/kubernetes/credential-providers.yaml:\n' +
    'apiVersion: kubelet.config.k8s.io/v1\n' +
    'kind: CredentialProviderConfig\n' +
    'providers:\n' +
    '  - name: purser-credential-provider\n' +
    '    apiVersion: credentialprovider.kubelet.k8s.io/v1\n' +
    `    matchImages: [${JSON.stringify(host)}]\n` +
    '    defaultCacheDuration: "10m"\n' +
    `    args: [${args.map((a) => JSON.stringify(a)).join(', ')}]\n` +
    '    tokenAttributes:\n' +
    `      serviceAccountTokenAudience: ${JSON.stringify(audience)}   # = providers[].audience\n` +
    '      cacheType: Token\n' +
    '      requireServiceAccount: true\n' +
    '---\n' +
    '# RBAC: nodes may request service account tokens for this audience\n' +
    'apiVersion: rbac.authorization.k8s.io/v1\n' +
    'kind: ClusterRole\n' +
    `metadata: { name: ${rbacName} }\n` +
    'rules:\n' +
    `  - { apiGroups: [""], resources: [${JSON.stringify(audience)}], verbs: ["request-serviceaccounts-token-audience"] }\n` +
    '---\n' +
    'apiVersion: rbac.authorization.k8s.io/v1\n' +
    'kind: ClusterRoleBinding\n' +
    `metadata: { name: ${rbacName} }\n` +
    `roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${rbacName} }\n` +
    'subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:nodes" }]\n' +
    `# ACL: match: { provider: ${p.name}, name: "\${labels.namespace}/**" } gives each namespace its own images;\n` +
    '# claims["kubernetes.io"].pod.name and identity.labels.serviceaccount narrow it in a when:\n'
  );
}
