/**
 * Defaults for well-known workload identity issuers. Each can be overridden field by field
 * (GitHub Enterprise Server and self-hosted GitLab set `issuer`).
 */
export interface Preset {
  issuer: string | undefined;
  account: string;
  labels: Record<string, string>;
  algorithms: string[];
  /** The claims worth knowing for policies, for docs and `purser check`. */
  claims: string[];
}

export const PRESETS: Record<'github-actions' | 'gitlab' | 'kubernetes', Preset> = {
  'github-actions': {
    issuer: 'https://token.actions.githubusercontent.com',
    account: 'claims.repository',
    labels: { owner: 'claims.repository_owner', ref: 'claims.ref', workflow: 'claims.workflow' },
    algorithms: ['RS256'],
    claims: [
      'repository',
      'repository_owner',
      'ref',
      'ref_type',
      'sha',
      'workflow',
      'job_workflow_ref',
      'actor',
      'event_name',
      'environment',
    ],
  },
  gitlab: {
    issuer: 'https://gitlab.com',
    account: 'claims.project_path',
    labels: { namespace: 'claims.namespace_path', ref: 'claims.ref' },
    algorithms: ['RS256'],
    claims: [
      'project_path',
      'namespace_path',
      'ref',
      'ref_type',
      'ref_protected',
      'pipeline_source',
      'user_login',
      'environment',
    ],
  },
  kubernetes: {
    issuer: undefined, // cluster-specific: `kubectl get --raw /.well-known/openid-configuration`
    account: 'claims.sub',
    labels: {
      namespace: 'claims["kubernetes.io"].namespace',
      serviceaccount: 'claims["kubernetes.io"].serviceaccount.name',
    },
    algorithms: ['RS256', 'ES256'],
    claims: ['sub', 'kubernetes.io.namespace', 'kubernetes.io.serviceaccount.name', 'kubernetes.io.pod.name'],
  },
};
