#!/usr/bin/env node
// Generates schema/purser.schema.json and docs/configuration.md from the one config schema
// (src/config/schema.ts, compiled to dist/). Run through `npm run schema`, which builds first.
// `generate()` returns both texts without writing, so a unit test can tell when they are stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { configSchema } from '../dist/src/config/schema.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_PATH = 'schema/purser.schema.json';
export const DOCS_PATH = 'docs/configuration.md';
export const SCHEMA_ID = 'urn:purser:config';

/** The JSON Schema of the file as written (input side: defaulted keys are optional). */
export function jsonSchema() {
  const generated = z.toJSONSchema(configSchema, { io: 'input' });
  const { $schema, ...rest } = generated;
  return { $schema, $id: SCHEMA_ID, title: 'Purser configuration', ...rest };
}

// ---------------------------------------------------------------------------------------
// Reference: walk the JSON Schema and describe every key path.

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const code = (s) => `\`${s}\``;
const json = (v) => JSON.stringify(v);

function constraints(s) {
  const out = [];
  if (s.minLength !== undefined && s.minLength > 1) out.push(`at least ${s.minLength} characters`);
  if (s.minLength === 1) out.push('not empty');
  if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
  if (s.format) out.push(`a ${s.format}`);
  if (s.pattern) out.push(`matching ${code(s.pattern)}`);
  const min = s.minimum;
  const max = s.maximum !== undefined && s.maximum < MAX_SAFE ? s.maximum : undefined;
  if (min !== undefined && max !== undefined) out.push(`${min} to ${max}`);
  else if (min !== undefined) out.push(`≥ ${min}`);
  else if (max !== undefined) out.push(`≤ ${max}`);
  if (s.minItems !== undefined) out.push(`at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
  return out;
}

/** A short human type: `string`, `"a" | "b"`, `list of string`, `map of name → string`. */
function typeOf(s, inUnion = false) {
  if (s.anyOf) return s.anyOf.map((b) => typeOf(b, true)).join(', or ');
  if (s.enum) return s.enum.map((v) => code(json(v))).join(' \\| ');
  let t;
  if (s.type === 'array') t = `list of ${s.items ? typeOf(s.items, inUnion) : 'any'}`;
  else if (isMap(s)) t = `map of name → ${typeOf(s.additionalProperties, inUnion)}`;
  else if (s.type === 'object' && s.properties && inUnion) {
    t = `object ${code(`{ ${Object.keys(s.properties).join(', ')} }`)}`;
  } else t = s.type ?? 'any';
  const c = constraints(s);
  return c.length ? `${t} (${c.join(', ')})` : t;
}

function isMap(s) {
  return s.type === 'object' && !s.properties && s.additionalProperties && s.additionalProperties !== false;
}

function defaultText(s) {
  const v = s.default;
  if (v === undefined) return undefined;
  if (isMap(s) && v !== null && typeof v === 'object' && Object.keys(v).length === 0)
    return `${code('{}')} (none)`;
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) {
    return `${code('{}')} (every field at its default)`;
  }
  if (Array.isArray(v) && v.length === 0) return `${code('[]')} (none)`;
  return code(json(v));
}

/** Lists every key path below object schema `s`, in schema order. */
function walk(s, path, out, form) {
  for (const [key, child] of Object.entries(s.properties ?? {})) {
    const p = path ? `${path}.${key}` : key;
    out.push({ path: p, schema: child, required: (s.required ?? []).includes(key), form });
    descend(child, p, out, form);
  }
}

function descend(s, path, out, form) {
  if (s.anyOf) {
    for (const branch of s.anyOf)
      descend(branch, path, out, branch.type === 'object' && branch.properties ? path : form);
  } else if (s.type === 'object' && s.properties) walk(s, path, out, form);
  else if (isMap(s)) {
    const p = `${path}.<name>`;
    out.push({ path: p, schema: s.additionalProperties, required: false, form, mapValue: true });
    descend(s.additionalProperties, p, out, form);
  } else if (s.type === 'array' && s.items) descend(s.items, `${path}[]`, out, form);
}

const anchor = (path) =>
  path
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

function reference(schema) {
  const entries = [];
  walk(schema, '', entries);
  const lines = [];
  const top = entries.filter((e) => !e.path.includes('.') && !e.path.includes('['));
  lines.push('## Keys at a glance', '');
  lines.push(
    top.map((e) => `[${code(e.path)}](#${anchor(e.path)})${e.required ? ' (required)' : ''}`).join(' · '),
    '',
  );
  for (const e of entries) {
    const depth = e.path.split(/\.|\[\]/).filter(Boolean).length;
    lines.push(`${depth === 1 ? '##' : '###'} ${code(e.path)}`, '');
    const facts = [`**Type:** ${typeOf(e.schema)}`];
    const d = defaultText(e.schema);
    if (e.required)
      facts.push(e.form ? `**Required** when ${code(e.form)} is written in this form` : '**Required**');
    else if (d) facts.push(`**Default:** ${d}`);
    else if (!e.mapValue) facts.push('optional');
    lines.push(facts.join(' · '), '');
    if (e.schema.description) lines.push(e.schema.description, '');
    const forms = (e.schema.anyOf ?? []).filter((b) => b.description);
    for (const b of forms) lines.push(`- ${typeOf(b, true)}: ${b.description}`);
    if (forms.length) lines.push('');
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// The handwritten parts of docs/configuration.md.

const HEADER = `# Configuration reference

> Generated by \`npm run schema\` from the schema in \`src/config/schema.ts\`; do not edit by
> hand. Edit the schema's \`.describe()\` texts (or \`scripts/gen-schema.js\` for this header
> and the example) and run \`npm run schema\`. A unit test fails when this file is stale.

Purser reads one YAML file: \`purser serve --config FILE\` (also \`purser check\` and
\`purser doctor\`). The same schema is shipped as JSON Schema in
[\`schema/purser.schema.json\`](../schema/purser.schema.json) for editor completion; with the
YAML language server (VS Code's YAML extension and others), put this on the first line of
the file, with the path (or URL) of the schema file as seen from the config file:

\`\`\`
# yaml-language-server: $schema=./node_modules/purser/schema/purser.schema.json
\`\`\`

The npm package ships the \`schema/\` directory.

## Rules of the file

- **Unknown keys are an error**, at every level, so a typo cannot silently switch something off.
- **Secrets and values from elsewhere**: any string may contain \`\${env:NAME}\` (an
  environment variable; unset is an error) or \`\${file:PATH}\` (the file's content, one
  trailing newline stripped; a relative PATH is relative to the config file).
- **Relative paths** (\`token.key\`, \`token.certificate\`, \`token.keys[].*\`, \`tls.*\`,
  \`htpasswd\`, \`providers[].keys\`, \`providers[].ca\`, \`proxy.upstreamCa\`, \`proxy.tls.*\`)
  are relative to the directory of the config file. These keys take the path itself:
  \`\${file:…}\` there (which would put a private key where its path belongs) is refused.
- **Errors never print a secret**: they name the key and the problem; a value that looks
  like key material (PEM, several lines) or is long is not shown.
- **Validated once, at start-up**: an invalid file stops \`serve\`, \`check\` and \`doctor\` with
  exit code 2 and one line naming the file, the key path and the problem, e.g.

  \`\`\`
  purser serve: /etc/purser/purser.yml: token.expiresIn: Too small: expected number to be >=60
  purser serve: /etc/purser/purser.yml: acl[0].match: unknown key "acount"
  \`\`\`

- **Reload**: \`kill -HUP <pid>\` re-reads the file; an invalid file is logged and the running
  configuration stays. \`listen\` changes need a restart.

Besides what the schema below says, the loader refuses, with the key path named:

- \`token.key\` and \`token.keys\` together, or neither; \`token.certificate\` without \`token.key\`;
  \`token.keyId: x5c\` without a certificate for the signing (first) key;
- a \`users\` string that is not a bcrypt hash (\`$2a$\`, \`$2b$\`, \`$2y$\`): use
  \`{ password: … }\` for a plaintext password, or \`purser hash\`;
- a user defined both in \`users\` and in the \`htpasswd\` file; an htpasswd entry that is not bcrypt;
- no way to authenticate at all (no users, no htpasswd, no providers, no \`webhooks.authn\` and
  \`auth.anonymous: false\`);
- a \`webhooks.authn.url\` or \`webhooks.authz.url\` that is not \`https://\` (no loopback
  exception) or carries a user or password; a webhook \`ca\` that cannot be read or holds no
  PEM certificate;
- a provider without \`issuer\` (the \`kubernetes\` preset has none: give the cluster's), an
  \`issuer\` or \`jwksUri\` that is not \`https://\` (\`http://\` is accepted on a loopback
  address only), \`jwksUri\` together with \`keys\`, a \`labels\` list entry that is not a plain
  identifier;
- two providers with the same \`name\`, a provider named like a static user, two providers with
  the same issuer and an audience in common (a token could not tell them apart);
- a \`match\` pattern that does not compile, an unknown \`\${…}\` placeholder;
- a CEL expression (\`acl[].when\`, \`providers[].account\`, \`when\`, \`labels\`) with a syntax
  or type error, or of the wrong result type (\`when\`: bool; \`account\`, labels: string).

See [authentication.md](authentication.md) and [authorization.md](authorization.md) for what
the keys do together.
`;

export const EXAMPLE = `# purser-config
# A complete, annotated Purser configuration. Every key is shown; most have defaults.
listen: 0.0.0.0:5001              # host:port the token server listens on
tls:                              # optional: serve HTTPS (recommended off loopback)
  cert: tls/purser.crt
  key: tls/purser.key
trustProxy: false                 # true only behind a reverse proxy that sets X-Forwarded-For

token:
  issuer: purser                  # = the registry's auth.token.issuer
  service: registry.example.com   # = the registry's auth.token.service (or a list)
  keys:                           # rotation: the first signs, all are published (or: key + certificate)
    - key: keys/2025/token.key
      certificate: keys/2025/token.crt
    - key: keys/2024/token.key
      certificate: keys/2024/token.crt
  keyId: libtrust                 # libtrust (distribution 2.x) | thumbprint (3.x) | x5c
  expiresIn: 300                  # registry token lifetime, seconds
  refreshTokenLifetime: 604800    # static users' refresh tokens (docker's identity token); 0 = none

auth:
  anonymous: true                 # callers without credentials get the ACL's anonymous rules
  cacheSeconds: 60                # remember a good password this long (bcrypt once per client burst)
  failedLogins:                   # per client address and username
    max: 10
    windowSeconds: 60

users:                            # static accounts
  alice: "$2b$10$R/3FSE/ZXzorBHWwyYJoK.PInPPtsTP5jNEfBfenZkhuHbxpBmV3i"   # purser hash
  deploy: { password: "\${env:DEPLOY_PASSWORD}" }                          # plaintext: warned at start-up
htpasswd: users.htpasswd          # more static accounts, bcrypt only (htpasswd -B)

providers:                        # workload identity: a platform's OIDC JWT is the password
  - name: github                  # docker login -u github --password-stdin <<< "$JWT"
    preset: github-actions        # issuer, account (claims.repository), labels owner/ref/workflow
    audience: registry.example.com
    when: claims.repository_owner == "acme"    # refuse every other organisation's tokens
    refreshTokenLifetime: 21600   # a build may outlive its 5-minute CI token
  - name: k8s
    preset: kubernetes
    issuer: https://kubernetes.default.svc.cluster.local   # your cluster's issuer
    audience: registry.example.com
    ca: k8s-ca.crt                # the API server's CA, for discovery and JWKS
    clockSkew: 60
    maxTokenAge: 3600
    algorithms: [RS256, ES256]
    keyCache: { maxAge: 600, cooldown: 30, timeout: 5, staleFor: 86400 }
  - name: ci
    issuer: https://ci.example.com
    audience: [registry.example.com, registry-staging.example.com]
    jwksUri: https://ci.example.com/keys                  # skip discovery
    account: '"ci:" + claims.sub'                           # CEL over claims
    labels: { team: claims.team }                           # or a list of claim names: [team]

acl:                              # ordered; per requested scope the first matching rule decides
  - match: { account: alice }
    actions: ["*"]
    comment: administrator
  - match: { account: deploy, type: repository, name: "prod/**" }
    actions: [pull, push]
  - match: { provider: github, type: repository, name: "\${claims.repository}" }
    when: claims.ref == "refs/heads/main" || request.actions == ["pull"]
    actions: [pull, push]
  - match: { provider: k8s, type: repository, name: "\${labels.namespace}/*" }
    actions: [pull]
  - match: { provider: ci, name: "/team-[a-z]+/.*/" }      # a regular expression
    when: identity.labels.team != ""
    actions: [pull]
  - match: { name: "secret/**" }
    actions: []                   # an explicit deny: stops the search
  - match: { account: "" }        # the anonymous caller
    actions: [pull]

log:
  level: info                     # debug adds each scope's decision to the token log line
  format: json                    # json (one object per line) | text
`;

export function markdown(schema = jsonSchema()) {
  return [
    HEADER,
    '## A complete example',
    '',
    '```yaml',
    EXAMPLE.trimEnd(),
    '```',
    '',
    '# Reference',
    '',
    'Every key, its type, its default and what it does. Paths use `[]` for a list item and',
    '`<name>` for a map key you choose.',
    '',
    reference(schema),
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\n*$/, '\n');
}

/** Both generated texts, exactly as `npm run schema` writes them. */
export function generate() {
  const schema = jsonSchema();
  return {
    [SCHEMA_PATH]: `${JSON.stringify(schema, null, 2)}\n`,
    [DOCS_PATH]: markdown(schema),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [rel, text] of Object.entries(generate())) {
    const p = join(ROOT, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    console.log(`wrote ${rel}`);
  }
}
