import { z } from 'zod';

/**
 * The one schema of Purser's configuration file. Defaults live here; the JSON Schema shipped
 * in `schema/purser.schema.json` and the reference in `docs/configuration.md` are generated
 * from it (`npm run schema`), and a unit test fails when they are stale.
 */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:5001 or :5001')
  .refine((s) => Number(s.slice(s.lastIndexOf(':') + 1)) <= 65535, 'port must be 0 to 65535');

const glob = z.string().max(1024);
const globOrList = z.union([glob, z.array(glob).min(1)]);

export const ACTION_NAMES = ['pull', 'push', 'delete', '*'] as const;

const tls = z
  .strictObject({
    cert: z.string().describe('PEM certificate chain file, or the PEM itself.'),
    key: z.string().describe('PEM private key file, or the PEM itself.'),
    minVersion: z
      .enum(['TLSv1.2', 'TLSv1.3'])
      .default('TLSv1.2')
      .describe('Oldest TLS version accepted; older clients fail the handshake.'),
  })
  .describe(
    'Serve HTTPS with this certificate and key. Replacing either file (or SIGHUP) loads the pair for new handshakes without a restart; an invalid pair is logged and the previous one keeps serving.',
  );

const signingKey = z.strictObject({
  key: z
    .string()
    .describe(
      'PEM private key file (PKCS#8, SEC1 or PKCS#1), ES256 (P-256) or RS256 (RSA ≥ 2048), or the PEM itself.',
    ),
  certificate: z
    .string()
    .optional()
    .describe('PEM certificate file for this key, or the PEM itself; needed for keyId x5c.'),
});

const token = z
  .strictObject({
    issuer: z
      .string()
      .min(1)
      .describe("The `iss` of issued tokens; must equal the registry's auth.token.issuer."),
    service: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe(
        "The registry service name(s) tokens are issued for; must equal the registry's auth.token.service. A request without `service` gets the first.",
      ),
    key: z
      .string()
      .optional()
      .describe(
        'PEM private key file that signs tokens, or the PEM itself (a value starting with -----BEGIN). Give this or `keys`.',
      ),
    certificate: z
      .string()
      .optional()
      .describe('PEM certificate file for `key`, or the PEM itself; needed for keyId x5c.'),
    keys: z
      .array(signingKey)
      .min(1)
      .optional()
      .describe(
        'Several keys for rotation: the first signs, all are published in the JWKS and accepted for refresh tokens.',
      ),
    keyId: z
      .enum(['libtrust', 'thumbprint', 'x5c'])
      .default('libtrust')
      .describe(
        'How the token header names its key: libtrust kid (distribution 2.x), RFC 7638 thumbprint kid (distribution 3.x), or an x5c certificate chain.',
      ),
    expiresIn: z
      .number()
      .int()
      .min(60)
      .max(86400)
      .default(300)
      .describe('Lifetime of issued tokens, seconds (60 to 86400).'),
    compat: z
      .enum(['zot'])
      .optional()
      .describe(
        "zot: accept Zot's catalog scope `repository::pull` (granted when the ACL grants registry:catalog) and write concrete actions instead of `*` in tokens.",
      ),
    refreshTokenLifetime: z
      .number()
      .int()
      .min(0)
      .default(7 * 86400)
      .describe('Lifetime of refresh tokens for static users, seconds; 0 disables refresh tokens.'),
  })
  .describe('The tokens Purser issues.');

const groupName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\s:]+$/, 'group names may not contain ":" or whitespace');
const labelMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'label names are letters, digits and "_"'),
  z.string().max(1024),
);

const userEntry = z.union([
  z.string().describe('A bcrypt hash ($2a$, $2b$ or $2y$), as printed by `purser hash`.'),
  z.strictObject({
    hash: z.string().optional().describe('A bcrypt hash, as printed by `purser hash`.'),
    password: z
      .string()
      .min(1)
      .optional()
      .describe('A plaintext password (warned at start-up; prefer a bcrypt hash). Give hash or password.'),
    groups: z
      .array(groupName)
      .max(256)
      .default([])
      .describe("The user's groups: identity.groups in CEL, `match: { group }` in rules."),
    labels: labelMap
      .default({})
      .describe("The user's labels: identity.labels in CEL, ${labels.NAME} in patterns."),
  }),
]);

// The two ways to find an LDAP user's groups name them, and follow nesting, alike.
const groupNameAttribute = z
  .string()
  .min(1)
  .default('cn')
  .describe("The group entry's attribute that names it.");
const nestedDepth = (what: string) => z.number().int().min(0).max(10).default(3).describe(what);

const ldapSearch = z.strictObject({
  base: z.string().min(1).describe('The search base DN.'),
  filter: z.string().min(1).describe('An RFC 4515 filter; placeholders are escaped before they go in.'),
});

const ldap = z
  .strictObject({
    url: z
      .string()
      .regex(/^ldaps?:\/\/[^/?#]+\/?$/, 'expected ldap://host[:port] or ldaps://host[:port]')
      .describe('The directory, ldap://host[:port] or ldaps://host[:port].'),
    startTLS: z
      .boolean()
      .default(false)
      .describe('Upgrade an ldap:// connection with StartTLS before anything is sent.'),
    ca: z
      .string()
      .optional()
      .describe("PEM CA bundle file the server's certificate is verified with (default: the system's)."),
    servername: z
      .string()
      .optional()
      .describe('The name to verify the certificate against; default the URL host.'),
    bindDn: z
      .string()
      .min(1)
      .optional()
      .describe('The service account that searches (for userSearch or a group search).'),
    bindPassword: z
      .string()
      .min(1)
      .optional()
      .describe("The service account's password; write ${file:PATH} to keep it out of the config."),
    userDn: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Bind mode: the user's DN, {username} replaced (DN-escaped), e.g. uid={username},ou=people,dc=example,dc=org.",
      ),
    userSearch: ldapSearch
      .optional()
      .describe(
        'Search-then-bind mode: the service account looks the user up ({username} in the filter), then Purser binds as the entry found; exactly one entry must match.',
      ),
    groups: z
      .union([
        z.strictObject({
          attribute: z
            .string()
            .min(1)
            .default('memberOf')
            .describe("The user's attribute listing its groups' DNs (memberOf)."),
          nameAttribute: groupNameAttribute,
          nestedDepth: nestedDepth("Levels of groups' own memberOf followed (0: direct groups only)."),
        }),
        z.strictObject({
          search: ldapSearch.describe(
            'A group search; {dn} (the user or, for nesting, a group DN) and {username} are replaced in the filter.',
          ),
          nameAttribute: groupNameAttribute,
          nestedDepth: nestedDepth(
            'Levels of the search repeated with {dn} a group found (0: direct groups only).',
          ),
        }),
      ])
      .optional()
      .describe("Where a user's groups come from; without it LDAP users have no groups."),
    maxGroups: z.number().int().min(1).max(1000).default(200).describe('Groups kept per user, at most.'),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5000)
      .describe('Connecting (TLS included) may take this long, milliseconds.'),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5000)
      .describe('Each LDAP operation (bind, search) may take this long, milliseconds.'),
  })
  .describe(
    'Authenticate Basic credentials against an LDAP directory (bind, or search then bind). The directory being unreachable is a 503, not a failed login.',
  );

const auth = z
  .strictObject({
    anonymous: z
      .boolean()
      .default(true)
      .describe(
        'Let callers without credentials through as the anonymous identity (account ""); the ACL decides what they get.',
      ),
    cacheSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(60)
      .describe(
        'How long a successful password check is remembered (under a keyed hash), so a client asking for a token per layer pays bcrypt once.',
      ),
    failedLogins: z
      .strictObject({
        max: z
          .number()
          .int()
          .min(1)
          .default(10)
          .describe('Failed logins allowed per client address and username within the window.'),
        windowSeconds: z.number().int().min(1).default(60).describe('The window, seconds.'),
      })
      .prefault({})
      .describe('Rate limit for failed logins; over it a caller gets 429 with Retry-After.'),
  })
  .prefault({})
  .describe('How callers are authenticated.');

const match = z
  .strictObject({
    account: globOrList.optional().describe('The account ("" is the anonymous caller).'),
    provider: globOrList
      .optional()
      .describe('The identity kind: "static", "ldap", "anonymous", or a provider name.'),
    group: globOrList
      .optional()
      .describe(
        "One of the caller's groups (LDAP groups, a static user's groups); a caller without groups never matches.",
      ),
    type: globOrList.optional().describe('The resource type: repository, registry, …'),
    name: globOrList.optional().describe('The resource name, e.g. team/app.'),
    service: globOrList.optional().describe('The requested service.'),
  })
  .describe(
    'All given keys must match. Values are globs (`*` within a path segment, `**` across, `?` one character) or anchored regular expressions written /…/; ${account}, ${provider}, ${labels.NAME} and ${claims.NAME} are replaced literally.',
  );

const rule = z.strictObject({
  match: match.prefault({}),
  when: z
    .string()
    .min(1)
    .optional()
    .describe(
      'CEL condition over identity, claims and request; the rule applies only when it is true. A runtime error counts as false.',
    ),
  actions: z
    .array(z.enum(ACTION_NAMES))
    .describe('Actions this rule grants ("*" = all). An empty list denies explicitly and stops the search.'),
  comment: z.string().optional().describe('Free text, shown by `purser check`.'),
  expiresIn: z
    .number()
    .int()
    .min(60)
    .max(86400)
    .optional()
    .describe(
      'Lifetime, seconds (60 to 86400), of a token this rule grants something in (default token.expiresIn); a token gets the shortest among the rules that granted it something.',
    ),
});

export const ASYMMETRIC_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

const provider = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, ".", "_" and "-"')
    .describe(
      'Names the provider in rules and logs; a Basic username equal to it selects the provider. `static`, `ldap` and `anonymous` are reserved.',
    ),
  preset: z
    .enum(['github-actions', 'gitlab', 'kubernetes'])
    .optional()
    .describe('Defaults for a well-known issuer: issuer (GitHub, gitlab.com), account, labels.'),
  issuer: z
    .string()
    .url()
    .optional()
    .describe("The issuer URL, equal to the tokens' `iss` and the discovery document's `issuer`."),
  audience: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .describe('Accepted `aud` value(s); a token must carry one of them.'),
  jwksUri: z.string().url().optional().describe('Fetch keys from here and skip discovery.'),
  keys: z
    .string()
    .optional()
    .describe(
      'A local PEM public key or JWKS file instead of fetching (air-gapped clusters), or PEM public keys inline.',
    ),
  ca: z
    .string()
    .optional()
    .describe('PEM CA bundle file to trust for this issuer (a private issuer), or the PEM itself.'),
  clockSkew: z.number().int().min(0).max(300).default(60).describe('Leeway for exp/nbf/iat, seconds.'),
  maxTokenAge: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Refuse tokens whose `iat` is older than this, seconds.'),
  algorithms: z
    .array(z.enum(ASYMMETRIC_ALGS))
    .min(1)
    .optional()
    .describe(
      "Accepted signature algorithms (asymmetric only; none and HMAC are never accepted). Default: the preset's (RS256 for GitHub and GitLab), else RS256 and ES256.",
    ),
  account: z
    .string()
    .min(1)
    .optional()
    .describe("CEL over `claims` giving the account name (default: the preset's, else claims.sub)."),
  when: z.string().min(1).optional().describe('CEL over `claims`: the token is accepted only when true.'),
  labels: z
    .union([
      z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().min(1)),
      z.array(z.string().min(1)),
    ])
    .optional()
    .describe(
      'Labels for policies: a map of name to CEL string expression over `claims`, or a list of claim names.',
    ),
  refreshTokenLifetime: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      "Lifetime of refresh tokens issued to this provider's identities, seconds (0: none). Lets a build outlive its CI token.",
    ),
  replay: z
    .enum(['off', 'once'])
    .default('off')
    .describe(
      'once: accept each token (by its jti, which it must carry) a single time until it expires; a replayed CI token is refused. Use it with clients that log in once (docker login with refreshTokenLifetime set), not with ones that send the token per request.',
    ),
  keyCache: z
    .strictObject({
      maxAge: z.number().int().min(1).default(600).describe('Refetch keys after this many seconds.'),
      cooldown: z
        .number()
        .int()
        .min(0)
        .default(30)
        .describe('At most one refetch per this many seconds for an unknown kid.'),
      timeout: z.number().min(0.1).max(60).default(5).describe('Fetch timeout, seconds.'),
      staleFor: z
        .number()
        .int()
        .min(0)
        .default(86400)
        .describe('Keep serving the last good keys this long while the issuer is unreachable, seconds.'),
    })
    .prefault({})
    .describe("How the issuer's keys are fetched and cached."),
});

/** One `proxy.tags` entry: tag-level policy on manifest PUT/DELETE by tag (docs/proxy-policy.md). */
const tagRule = z.strictObject({
  tags: glob
    .min(1)
    .describe(
      'The tag(s) this entry is about: a glob (`*`, `?`) or an anchored /regex/, e.g. `latest`, `v*`, `/v[0-9]+\\.[0-9]+\\.[0-9]+/`.',
    ),
  match: match
    .optional()
    .describe('As in an ACL rule; `name` is the repository, `type` is always repository.'),
  when: z
    .string()
    .min(1)
    .optional()
    .describe(
      'CEL over identity, claims and request (request.tag is the tag, request.actions [push] or [delete]); the entry applies only when true. A runtime error counts as false.',
    ),
  actions: z
    .array(z.enum(['push', 'delete']))
    .optional()
    .describe(
      'Which of push (manifest PUT by tag) and delete (DELETE by tag) this entry allows, on top of what the ACL granted; [] refuses both. Absent: the ACL decides.',
    ),
  immutable: z
    .literal(true)
    .optional()
    .describe(
      'Refuse a manifest PUT that would move an existing tag to another manifest (re-pushing the same manifest is accepted), and a DELETE by tag.',
    ),
  comment: z.string().optional().describe('Free text, shown in refusals and logs.'),
});

const upstreamCredentials = z.strictObject({
  username: z.string().min(1),
  password: z.string().min(1).describe('May be ${env:NAME} or ${file:PATH}.'),
});

/** Per-listener socket limits (connection-guard.ts), with this listener's defaults. */
function listenerLimits(maxConnections: number, headersTimeout: number, bodyIdleTimeout: number) {
  return {
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(maxConnections)
      .describe(
        'Client connections this listener holds at once; a connection beyond it is closed as soon as it is accepted, without a response.',
      ),
    headersTimeout: z
      .number()
      .min(1)
      .max(600)
      .default(headersTimeout)
      .describe('Seconds a client has to send a request head; then its connection is closed (408).'),
    bodyIdleTimeout: z
      .number()
      .min(1)
      .max(3600)
      .default(bodyIdleTimeout)
      .describe(
        'Seconds a request body may go without a byte arriving; then its connection is closed. A body that keeps arriving is never cut.',
      ),
  };
}

const proxy = z
  .strictObject({
    listen: hostPort.describe('Address clients use as the registry, host:port.'),
    upstream: z.string().url().describe('The real registry, e.g. http://127.0.0.1:5000.'),
    upstreamAuth: z
      .union([
        z.enum(['token', 'none']),
        z.strictObject({ basic: upstreamCredentials }),
        z.strictObject({ bearer: upstreamCredentials }),
      ])
      .default('token')
      .describe(
        "token: the upstream trusts Purser's key (a token is minted per upstream scope); none: an open upstream; { basic }: fixed upstream credentials; { bearer }: the upstream's own token server, with these credentials.",
      ),
    externalUrl: z
      .string()
      .url()
      .optional()
      .describe('What clients call the proxy (challenges, Location headers); default http(s)://listen.'),
    service: z
      .string()
      .optional()
      .describe('The service the proxy checks tokens for; default the first token.service.'),
    upstreamCa: z
      .string()
      .optional()
      .describe('PEM CA bundle file for an https upstream with a private CA, or the PEM itself.'),
    tls: tls.optional(),
    connections: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(64)
      .describe(
        'Keep-alive connections to the upstream for reads (GET, HEAD, DELETE); more requests wait for one.',
      ),
    uploadConnections: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(32)
      .describe(
        'Upstream connections for requests with a body (POST, PUT, PATCH), apart from the reads so uploads cannot starve pulls; more uploads wait for one.',
      ),
    uploadsPerAccount: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(16)
      .describe(
        'Uploads (POST, PUT, PATCH) one account may have in flight at once; the next gets 429 TOOMANYREQUESTS with Retry-After.',
      ),
    tags: z
      .array(tagRule)
      .max(1000)
      .default([])
      .describe(
        'Tag policy, ordered: for a manifest PUT or DELETE by tag, the first entry whose tags, match and when hold decides (docs/proxy-policy.md).',
      ),
    ...listenerLimits(1024, 30, 60),
  })
  .describe('Authenticating reverse proxy in front of a registry.');

const log = z
  .strictObject({
    level: z
      .enum(['debug', 'info', 'warn', 'error'])
      .default('info')
      .describe('Least severe level written; debug adds the rule that decided each scope.'),
    format: z
      .enum(['json', 'text'])
      .default('json')
      .describe('json: one JSON object per line (for log shippers); text: key=value lines for people.'),
  })
  .prefault({})
  .describe('Logging to standard output. Secrets never appear in it.');

const redis = z
  .strictObject({
    url: z
      .string()
      .regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// or rediss:// URL')
      .describe(
        'redis://[user:password@]host:port[/db], or rediss:// for TLS. A single Redis (or a Sentinel-managed primary behind one address); Cluster is not supported. Put the password in with ${env:NAME}.',
      ),
    keyPrefix: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[\w.:-]+$/, 'letters, digits and . _ : - only')
      .default('purser:')
      .describe('Prefix of every key Purser writes; replicas sharing state use the same one.'),
    tls: z
      .strictObject({
        ca: z
          .string()
          .optional()
          .describe('PEM CA bundle file to verify the Redis server with, or the PEM itself.'),
        cert: z.string().optional().describe('PEM client certificate file (mutual TLS), or the PEM itself.'),
        key: z.string().optional().describe('PEM client private key file (mutual TLS), or the PEM itself.'),
        servername: z
          .string()
          .optional()
          .describe('The name to verify the certificate against; default the URL host.'),
      })
      .optional()
      .describe('TLS to Redis (implied by rediss://).'),
    onError: z
      .strictObject({
        rateLimits: z
          .enum(['open', 'closed'])
          .default('open')
          .describe('open: logins go on unthrottled while Redis is unreachable; closed: they get 503.'),
        revocation: z
          .enum(['open', 'closed'])
          .default('closed')
          .describe(
            'closed: refresh grants get 503 while Redis is unreachable; open: revocations are not checked.',
          ),
      })
      .prefault({})
      .describe('What happens while Redis cannot be reached.'),
  })
  .describe(
    'Share failed-login counters, refresh-token revocations and the replay cache with other replicas through Redis. Without it they are per process. Changing it takes a restart.',
  );

const audit = z
  .union([
    z.strictObject({
      file: z
        .string()
        .min(1)
        .describe('Append events to this file (created 0600), relative to the config file.'),
    }),
    z.strictObject({
      stdout: z.literal(true).describe('Write events to standard output, between log lines.'),
    }),
  ])
  .describe(
    'Audit log: one JSON object per access decision (token endpoint and proxy), whatever log.level says. Schema in docs/operations.md. Read at start: a change needs a restart.',
  );

/** The transport both webhooks share (authn/webhook.ts, authz/webhook.ts, util/webhook-client.ts). */
function webhookTransport(cacheSeconds: number) {
  return {
    url: z
      .string()
      .url()
      .describe('Where Purser POSTs the request: an https:// URL (plain http:// is refused).'),
    secret: z
      .string()
      .min(32)
      .describe(
        'Shared secret of the HMAC-SHA256 signature Purser puts in `Purser-Signature` (at least 32 characters). Give it with ${file:PATH} or ${env:NAME}.',
      ),
    ca: z
      .string()
      .optional()
      .describe("PEM CA bundle file that verifies the webhook's certificate; default Node's root CAs."),
    timeout: z
      .number()
      .min(0.1)
      .max(30)
      .default(2)
      .describe('Seconds for the whole exchange (connect, TLS, request, answer); then the call fails.'),
    maxResponseBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(64 * 1024)
      .describe('Largest answer body, bytes; a longer one is cut off and the call fails.'),
    cacheSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(cacheSeconds)
      .describe(
        'How long an answer is reused for the same request (keyed by a keyed digest of it); 0: never. Failures are never cached.',
      ),
    cacheEntries: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('Most answers cached; the oldest make room (also bounded to 16 MiB).'),
  };
}

const webhooks = z
  .strictObject({
    authn: z
      .strictObject(webhookTransport(60))
      .optional()
      .describe(
        'Asked about Basic credentials no other authenticator claims (after static users and providers); it answers an identity or a refusal. Down or slow: 503, not a failed login. Request and answer: docs/authentication.md#webhooks.',
      ),
    authz: z
      .strictObject({
        ...webhookTransport(30),
        order: z
          .enum(['before-acl', 'after-acl'])
          .default('before-acl')
          .describe(
            'Where the webhook sits in the authorizer chain: before-acl (it decides first; scopes it leaves undecided go to the ACL) or after-acl (it decides only the scopes no ACL rule matched).',
          ),
        claims: z
          .array(z.string().min(1).max(128))
          .max(64)
          .default([])
          .describe(
            "Names of the JWT claims of a provider's identity sent along (none by default; the token itself never is).",
          ),
      })
      .optional()
      .describe(
        'Asked, per token request, which actions each requested scope gets; its answer is clamped to what was requested. Down, slow or malformed: no access for the scopes it was asked (fail closed). Request and answer: docs/authorization.md#webhooks.',
      ),
  })
  .describe('Authentication and authorization delegated to HTTPS endpoints of your own.');
/** Kubernetes label selector syntax (equality and set-based), as the API server parses it. */
const labelSelector = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z0-9._/\-=!,()\s]+$/, 'a Kubernetes label selector, e.g. purser-config=true');

export const kubernetesSchema = z
  .strictObject({
    configSecrets: z
      .strictObject({
        namespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name (RFC 1123 label)')
          .describe('The namespace whose Secrets are watched.'),
        labelSelector: labelSelector
          .default('purser-config=true')
          .describe('Only Secrets matching this label selector are read.'),
      })
      .optional()
      .describe(
        'Merge the YAML in the `config` key of matching Secrets over this file, in Secret-name order (maps merge, lists and scalars replace, null removes a key), and reload when one is added, changed or deleted. An invalid Secret keeps the last good configuration. Credentials: in-cluster, or KUBECONFIG. Needs the @purser/kube package. Read from the file only: a Secret cannot set `kubernetes`, and changing it takes a restart.',
      ),
  })
  .describe('Kubernetes integration.');

export const configSchema = z
  .strictObject({
    listen: hostPort
      .default('127.0.0.1:5001')
      .describe('Address of the token server, host:port (port 0 picks a free one).'),
    tls: tls.optional(),
    trustProxy: z
      .boolean()
      .default(false)
      .describe('Take the client address from X-Forwarded-For (only behind a trusted reverse proxy).'),
    token,
    auth,
    users: z
      .record(
        z
          .string()
          .min(1)
          .regex(/^[^:\s]+$/, 'usernames may not contain ":" or whitespace'),
        userEntry,
      )
      .default({})
      .describe(
        'Static accounts: a bcrypt hash, or { hash | password, groups?, labels? } (password is plaintext).',
      ),
    htpasswd: z
      .string()
      .optional()
      .describe('An htpasswd file with bcrypt entries (htpasswd -B); other schemes are refused.'),
    groupsFile: z
      .string()
      .optional()
      .describe(
        'Groups of static users (htpasswd and users:), Apache AuthGroupFile format: lines `group: user1 user2`.',
      ),
    ldap: ldap.optional(),
    providers: z
      .array(provider)
      .default([])
      .describe('OIDC / JWT issuers whose tokens are accepted as passwords (workload identity).'),
    acl: z
      .array(rule)
      .min(1)
      .describe('Ordered rules; for each requested scope the first matching rule decides.'),
    limits: z
      .strictObject({
        ...listenerLimits(512, 10, 10),
        responseBatch: z
          .number()
          .int()
          .min(1)
          .max(256)
          .default(16)
          .describe(
            'Token responses ready in one event-loop turn are written together at its end, at most this many at once: on loopback and between containers of one node, sending them in a burst spares waking each client separately (on a 2-core VM: 112 → 80 µs of CPU per token). A response waits for at most this many minus one others to be computed; 1 writes each as soon as it is ready.',
          ),
      })
      .prefault({})
      .describe("The token server's listener (`listen`); the proxy's has its own under `proxy`."),
    webhooks: webhooks.optional(),
    proxy: proxy.optional(),
    redis: redis.optional(),
    workers: z
      .number()
      .int()
      .min(1)
      .max(256)
      .optional()
      .describe(
        'Worker processes of `serve`, each serving the token endpoint and the proxy on all listeners (`--workers` overrides). Default: the available parallelism (os.availableParallelism()), capped by the CPU quota of its cgroup (the CPU limit of a container or pod, rounded down, at least 1); 1 runs a single process. Failed-login counts, revocations and the replay cache are shared by the workers (through the primary process, or Redis when `redis:` is set). Changing it takes a restart.',
      ),
    shutdownTimeout: z
      .number()
      .min(0)
      .max(3600)
      .default(30)
      .describe(
        'Seconds SIGTERM/SIGINT waits for requests in flight (token requests, proxied streams) before closing their connections (`--shutdown-timeout` overrides). Changing it takes a restart.',
      ),
    log,
    audit: audit.optional(),
    kubernetes: kubernetesSchema.optional(),
  })
  .describe('Purser configuration file.');

/** The config file as written (defaults optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** The config after validation and defaults. */
export type ConfigData = z.output<typeof configSchema>;
export type RuleData = z.output<typeof rule>;
export type MatchData = z.output<typeof match>;
export type ProviderData = z.output<typeof provider>;
export type LdapData = z.output<typeof ldap>;
export type ProxyData = z.output<typeof proxy>;
export type TagRuleData = z.output<typeof tagRule>;
export type RedisData = z.output<typeof redis>;
export type WebhooksData = z.output<typeof webhooks>;
export type KubernetesData = z.output<typeof kubernetesSchema>;
