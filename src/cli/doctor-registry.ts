import { Agent, request } from 'undici';
import type { Config } from '../config/load.js';
import { parseBearerChallenge } from '../protocol/challenge.js';
import type { KeyRing } from '../token/keyring.js';
import type { SigningKey } from '../token/keys.js';
import { type KeyIdMode, TokenSigner } from '../token/signer.js';
import type { RegistrySideConfig } from './registry-side-config.js';

/** One result of a live check: an error makes `doctor` exit non-zero. */
export interface Finding {
  level: 'ok' | 'warning' | 'error';
  message: string;
  fix?: string;
}

export interface LiveCheckOptions {
  /** The registry's base URL (scheme, host, port). */
  registry: string;
  /** The token URL this config is reached at; `realmGiven` when the operator passed it. */
  realm: string;
  realmGiven: boolean;
  /** PEM CA bundle for an https registry with a private CA. */
  ca?: string;
  registryConfig?: RegistrySideConfig;
  timeoutMs?: number;
}

// distribution's token.Leeway: exp and nbf are checked 60 s either way.
const REGISTRY_LEEWAY_S = 60;
// A repository no one uses: an accepted token gets 404 NAME_UNKNOWN, a refused one 401.
const PROBE_REPO = 'purser-doctor/probe';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

const header = (a: Answer, name: string): string => {
  const v = a.headers[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return a === b;
  }
}

const spki = (k: SigningKey) => k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

/**
 * Checks a running registry against this config: its challenge (realm, service), its clock, and
 * whether it accepts a token from each key. distribution answers every refused token with the
 * same `invalid_token` (the reason only goes to its log), so a refusal is narrowed down by
 * signing variants (other key-id forms, its own service) and, given the registry's config
 * file, by comparing issuer and trusted certificates directly.
 */
export async function checkRegistry(
  config: Readonly<Config>,
  ring: KeyRing,
  opts: LiveCheckOptions,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const base = opts.registry.replace(/\/+$/, '');
  const timeout = opts.timeoutMs ?? 10_000;
  const dispatcher = new Agent({
    connect: { ...(opts.ca ? { ca: opts.ca } : {}), timeout },
    headersTimeout: timeout,
    bodyTimeout: timeout,
  });
  const get = async (path: string, auth?: string): Promise<Answer> => {
    const res = await request(`${base}${path}`, {
      dispatcher,
      headers: auth ? { authorization: auth } : {},
      signal: AbortSignal.timeout(timeout),
    });
    await res.body.dump({ limit: 64 * 1024 });
    return { status: res.statusCode, headers: res.headers };
  };
  try {
    let v2: Answer;
    try {
      v2 = await get('/v2/');
    } catch (e) {
      out.push({
        level: 'error',
        message: `${base}/v2/ is unreachable (${e instanceof Error ? e.message : String(e)})`,
        fix: 'check --registry (scheme, host and port) and, for https with a private CA, --registry-ca',
      });
      return out;
    }
    const challengeHeader = header(v2, 'www-authenticate');
    if (v2.status === 200) {
      out.push({
        level: 'error',
        message: `${base}/v2/ answers 200 without a token: the registry has no token auth configured`,
        fix: "add the auth.token block printed above to the registry's config and restart it",
      });
      return out;
    }
    const challenge = v2.status === 401 ? parseBearerChallenge(challengeHeader) : undefined;
    if (!challenge) {
      out.push({
        level: 'error',
        message: `${base}/v2/ answered ${v2.status} with WWW-Authenticate ${JSON.stringify(challengeHeader.slice(0, 120))}, not a Bearer challenge`,
        fix: /^basic/i.test(challengeHeader)
          ? 'the registry uses Basic auth (htpasswd): replace its auth: block with the auth.token block printed above'
          : 'check that --registry is the registry itself, not a proxy in front of it',
      });
      return out;
    }
    const theirService = challenge.service;
    const theirRealm = challenge.realm;
    const services = config.token.services;
    if (!theirService) {
      out.push({
        level: 'error',
        message: "the registry's challenge names no service",
        fix: `set auth.token.service: ${services[0]} in the registry's config`,
      });
    } else if (!services.includes(theirService)) {
      out.push({
        level: 'error',
        message: `the registry's service is ${JSON.stringify(theirService)}, which is not in token.services (${services.join(', ')}): its tokens would carry an audience the registry refuses`,
        fix: `set auth.token.service: ${services[0]} in the registry's config, or add ${JSON.stringify(theirService)} to token.services`,
      });
    } else out.push({ level: 'ok', message: `service ${theirService} is one of token.services` });
    if (!theirRealm) {
      out.push({
        level: 'error',
        message: "the registry's challenge names no realm",
        fix: `set auth.token.realm: ${opts.realm}`,
      });
    } else if (!sameUrl(theirRealm, opts.realm)) {
      out.push({
        level: opts.realmGiven ? 'error' : 'warning',
        message: `the registry sends clients to realm ${theirRealm}, this config serves tokens at ${opts.realm}`,
        fix: opts.realmGiven
          ? `set auth.token.realm: ${opts.realm} in the registry's config`
          : `if clients reach Purser at ${theirRealm}, pass --realm ${theirRealm}; otherwise set the registry's auth.token.realm`,
      });
    } else out.push({ level: 'ok', message: `realm ${theirRealm} is this config's token URL` });

    const date = Date.parse(header(v2, 'date'));
    // The registry's clock, as far as its Date tells (0 when it sends none).
    let skewMs = 0;
    if (Number.isFinite(date)) {
      // Date has a resolution of one second; a couple of seconds is no skew.
      const skew = Math.round((date - Date.now()) / 1000);
      if (Math.abs(skew) > REGISTRY_LEEWAY_S) skewMs = skew * 1000;
      if (Math.abs(skew) > REGISTRY_LEEWAY_S)
        out.push({
          level: 'error',
          message: `the registry's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} this machine's, beyond its ${REGISTRY_LEEWAY_S} s leeway: tokens are refused as ${skew > 0 ? 'expired' : 'not yet valid'}`,
          fix: 'synchronise both clocks (NTP)',
        });
      else if (Math.abs(skew) > 5)
        out.push({
          level: 'warning',
          message: `the registry's clock is ${Math.abs(skew)} s ${skew > 0 ? 'ahead' : 'behind'} (the registry tolerates ${REGISTRY_LEEWAY_S} s)`,
          fix: 'synchronise both clocks (NTP)',
        });
    }

    const audience = theirService && services.includes(theirService) ? theirService : services[0]!;
    const accepted = async (
      key: SigningKey,
      keyId: KeyIdMode,
      aud = audience,
      clockMs = 0,
    ): Promise<boolean | string> => {
      if (keyId === 'x5c' && !key.x5c) return 'no certificate';
      const signer = new TokenSigner(key, { issuer: config.token.issuer, keyId, expiresIn: 60 });
      const { token } = signer.issue(
        'purser-doctor',
        aud,
        [{ type: 'repository', name: PROBE_REPO, actions: ['pull'] }],
        Date.now() + clockMs,
      );
      const a = await get(`/v2/${PROBE_REPO}/tags/list`, `Bearer ${token}`);
      if (a.status === 401) {
        const err = parseBearerChallenge(header(a, 'www-authenticate'))?.error;
        // insufficient_scope: the token was accepted, its access was not.
        return err === 'insufficient_scope';
      }
      if (a.status === 403) return true;
      if (a.status >= 500) return `the registry answered ${a.status}`;
      return true;
    };
    const keyId = config.token.keyId;
    const where = (i: number) => config.token.keys[i]!;
    const results: (boolean | string)[] = [];
    for (const k of ring.keys) results.push(await accepted(k, keyId));
    const failure = results.find((r): r is string => typeof r === 'string');
    if (failure) {
      out.push({
        level: 'error',
        message: `probing with a token: ${failure}`,
        fix: "read the registry's log",
      });
      return out;
    }
    if (results[0] === true)
      out.push({ level: 'ok', message: `the registry accepts tokens signed by key [0] (${where(0).key})` });
    else if (skewMs !== 0 && (await accepted(ring.keys[0]!, keyId, audience, skewMs)) === true)
      // Dated by the registry's clock the same token passes: the skew is the whole problem.
      out.push({
        level: 'error',
        message: `the registry refuses key [0]'s token only for the clock skew: dated by its clock, it is accepted`,
        fix: 'synchronise both clocks (NTP)',
      });
    else out.push(...(await diagnose(config, ring, opts, accepted, audience, theirService)));
    // Rotation: every published key should be trusted before it is moved first to sign.
    results.forEach((r, i) => {
      if (i === 0) return;
      if (r === true)
        out.push({
          level: 'ok',
          message: `key [${i}] (${where(i).key}) is trusted too: it can be moved first to sign`,
        });
      else
        out.push({
          level: results[0] === true ? 'warning' : 'error',
          message:
            results[0] === true
              ? `key [${i}] (${where(i).key}) is published but the registry does not trust it yet: tokens it signs would be refused`
              : `the registry trusts neither key [0] nor key [${i}] (${where(i).key})`,
          fix: `add ${where(i).certificate ?? `key [${i}]'s certificate`} to the registry's rootcertbundle (a bundle holds several certificates) and restart the registry before key [${i}] signs`,
        });
    });
    if (results[0] !== true) {
      const trusted = results.indexOf(true);
      if (trusted > 0)
        out.push({
          level: 'error',
          message: `the registry trusts key [${trusted}] but key [0] signs`,
          fix: `put key [${trusted}] first in token.keys, or add key [0]'s certificate to the registry's rootcertbundle`,
        });
    }
    return out;
  } finally {
    await dispatcher.close();
  }
}

/** Key [0]'s token was refused: find out why, from variants and the registry's config. */
async function diagnose(
  config: Readonly<Config>,
  ring: KeyRing,
  opts: LiveCheckOptions,
  accepted: (key: SigningKey, keyId: KeyIdMode, aud?: string) => Promise<boolean | string>,
  audience: string,
  theirService: string | undefined,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const key = ring.keys[0]!;
  const keyId = config.token.keyId;
  out.push({
    level: 'error',
    message: `the registry refuses a token signed by key [0] (${config.token.keys[0]!.key}; iss ${JSON.stringify(config.token.issuer)}, aud ${JSON.stringify(audience)}, keyId ${keyId})`,
  });
  const forms = (['libtrust', 'thumbprint', 'x5c'] as const).filter((f) => f !== keyId);
  const otherForms: KeyIdMode[] = [];
  for (const f of forms) if ((await accepted(key, f)) === true) otherForms.push(f);
  if (otherForms.length) {
    const pick = otherForms.includes('x5c') ? 'x5c' : otherForms[0]!;
    out.push({
      level: 'error',
      message: `the registry trusts key [0] but not its ${keyId === 'x5c' ? 'certificate chain' : `${keyId} kid`}; it accepts ${otherForms.join(' and ')}${otherForms.includes('thumbprint') && !otherForms.includes('libtrust') ? ' (distribution 3.x names keys by RFC 7638 thumbprint)' : ''}${otherForms.includes('libtrust') && !otherForms.includes('thumbprint') ? ' (distribution 2.x names keys by libtrust kid)' : ''}`,
      fix: `set token.keyId: ${pick}`,
    });
    return out;
  }
  const rc = opts.registryConfig;
  let named = false;
  if (rc) {
    if (rc.kind === 'distribution' && rc.issuer !== config.token.issuer) {
      named = true;
      out.push({
        level: 'error',
        message: `${rc.file}: auth.token.issuer is ${JSON.stringify(rc.issuer ?? '')}, Purser signs iss ${JSON.stringify(config.token.issuer)}`,
        fix: `set auth.token.issuer: ${config.token.issuer} in the registry's config (or token.issuer: ${rc.issuer} here)`,
      });
    }
    if (rc.service && !config.token.services.includes(rc.service)) named = true;
    const want = spki(key);
    const certPath = config.token.keys[0]!.certificate;
    if (!rc.certFile && !rc.jwksFile) {
      named = true;
      out.push({
        level: 'error',
        message: `${rc.file}: no ${rc.kind === 'zot' ? 'cert' : 'rootcertbundle'} is set`,
        fix: `set ${rc.kind === 'zot' ? 'http.auth.bearer.cert' : 'auth.token.rootcertbundle'} to ${certPath ?? "key [0]'s certificate (purser keys generate writes token.crt)"}`,
      });
    } else if (rc.certFile && rc.certError) {
      named = true;
      out.push({
        level: 'error',
        message: `${rc.file}: ${rc.kind === 'zot' ? 'cert' : 'rootcertbundle'} ${rc.certFile} cannot be read (${rc.certError})`,
        fix: `point it at ${certPath ?? "key [0]'s certificate"}`,
      });
    } else if (rc.certKeys && !rc.certKeys.includes(want) && !rc.jwksFile) {
      named = true;
      out.push({
        level: 'error',
        message: `${rc.file}: ${rc.kind === 'zot' ? 'cert' : 'rootcertbundle'} ${rc.certFile} holds no certificate of key [0] (${config.token.keys[0]!.key})`,
        fix: `${rc.kind === 'zot' ? 'set cert to' : 'set rootcertbundle to (or append to the bundle)'} ${certPath ?? "key [0]'s certificate (purser keys generate writes token.crt)"}, then restart the registry`,
      });
    }
  }
  if (!named && theirService && !config.token.services.includes(theirService)) {
    // The service mismatch was reported already; check it is the only problem.
    if ((await accepted(key, keyId, theirService)) === true)
      out.push({
        level: 'error',
        message: `a token for service ${JSON.stringify(theirService)} is accepted: the service is the only mismatch`,
        fix: `add ${JSON.stringify(theirService)} to token.services, or set the registry's auth.token.service: ${config.token.services[0]}`,
      });
    return out;
  }
  if (!named)
    out.push({
      level: 'error',
      message: rc
        ? `${rc.file} matches this config (issuer, service, certificate), yet the token is refused: the registry may run with another config (REGISTRY_AUTH_TOKEN_* variables override the file)`
        : `the registry answers every refused token the same way; the cause is one of: its auth.token.issuer is not ${JSON.stringify(config.token.issuer)}, or its rootcertbundle does not hold key [0]'s certificate (${config.token.keys[0]!.certificate ?? 'none configured'})`,
      fix: rc
        ? 'read the registry\'s log: it names the reason ("token from untrusted issuer", "token signed by untrusted key")'
        : "pass --registry-config with the registry's config file to tell which, or read the registry's log",
    });
  return out;
}
