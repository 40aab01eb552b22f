import type { Config } from '../config/load.js';
import { isInlinePem } from '../util/pem-value.js';

/** Registry-side snippets that match a Purser configuration (used by `doctor` and the dev default). */
export function registrySnippets(
  config: Readonly<Config>,
  realm: string,
): { distribution2: string; distribution3: string; zot: string } {
  const service = config.token.services[0]!;
  // An inline certificate has no path to give the registry: it needs one written out.
  const certs = config.token.keys
    .map((k, i) =>
      k.certificate !== undefined && isInlinePem(k.certificate)
        ? `<a file holding the inline certificate of token key ${i}>`
        : k.certificate,
    )
    .filter((c): c is string => c !== undefined);
  // During a key rotation the registry must trust every published key: one bundle of all certificates.
  const cert =
    certs.length > 1
      ? `<one file holding all of: ${certs.join(' ')}> # cat them together`
      : (certs[0] ?? '<certificate of token.key: purser keys generate writes token.crt>');
  const distribution2 =
    `# distribution 2.x (registry:2): token.keyId must be libtrust or x5c\n` +
    `auth:\n  token:\n    realm: ${realm}\n    service: ${service}\n    issuer: ${config.token.issuer}\n    rootcertbundle: ${cert}\n`;
  const distribution3 =
    `# distribution 3.x (registry:3): token.keyId must be thumbprint (or x5c)\n` +
    `auth:\n  token:\n    realm: ${realm}\n    service: ${service}\n    issuer: ${config.token.issuer}\n    rootcertbundle: ${cert}\n` +
    `    # or, instead of rootcertbundle: jwks: <a file holding ${realm.replace(/\/token$/, '')}/.well-known/jwks.json>\n`;
  // Zot reads one certificate, never a bundle: the one of the key that signs now.
  const zotCert = certs[0] ?? '<certificate of token.key: purser keys generate writes token.crt>';
  const zotNotes =
    config.token.compat === 'zot'
      ? '// token.compat: zot is set: Zot\'s catalog scope repository::pull is granted when the ACL grants registry:catalog, and "*" is written as pull,push,delete.\n'
      : '// WARNING: set token.compat: zot in this config for Zot: without it Zot\'s catalog scope (repository::pull) is refused and a token granting "*" is refused by Zot.\n';
  const zot =
    `// Zot (config.json, http.auth):\n${zotNotes}` +
    '// Zot checks neither iss nor aud, only the signature and exp: a token this Purser signs for any of its services works on Zot; give Zot a Purser (and key) of its own.\n' +
    (certs.length > 1
      ? '// Zot trusts this one certificate only: it refuses tokens signed by any other key of token.keys until cert is switched to it.\n'
      : '') +
    JSON.stringify({ http: { auth: { bearer: { realm, service, cert: zotCert } } } }, null, 2) +
    '\n';
  return { distribution2, distribution3, zot };
}
