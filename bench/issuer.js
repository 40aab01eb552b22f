// A tiny OIDC issuer on loopback for the JWT-login benchmark: it serves a discovery document
// and a JWKS (one RS256 key), and mints GitHub Actions-shaped ID tokens with jose.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, SignJWT } from 'jose';

/**
 * Starts the issuer on 127.0.0.1 (a free port). Resolves with its URL, its public JWKS, a
 * `mint(claims)` function and `close()`.
 */
export async function startIssuer() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-rsa-1', alg: 'RS256', use: 'sig' };
  const jwks = { keys: [jwk] };
  let url = '';
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer: url,
          jwks_uri: `${url}/.well-known/jwks`,
          subject_types_supported: ['public'],
          response_types_supported: ['id_token'],
          id_token_signing_alg_values_supported: ['RS256'],
          claims_supported: [
            'sub',
            'aud',
            'exp',
            'iat',
            'iss',
            'jti',
            'nbf',
            'ref',
            'repository',
            'repository_owner',
          ],
        }),
      );
    } else if (req.url === '/.well-known/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${server.address().port}`;

  /** Signs a GitHub Actions-shaped ID token for `repository` on `ref`, valid for an hour. */
  const mint = ({ audience, repository = 'acme/app', ref = 'refs/heads/main', lifetime = 3600 }) => {
    const owner = repository.split('/')[0];
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      jti: 'd6a1e7c8-3f0b-4c43-9d2e-5a1b7f3e9c01',
      sub: `repo:${repository}:ref:${ref}`,
      ref,
      sha: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4',
      repository,
      repository_owner: owner,
      repository_owner_id: '1234567',
      repository_id: '7654321',
      repository_visibility: 'private',
      run_id: '9876543210',
      run_number: '42',
      run_attempt: '1',
      actor: 'octocat',
      actor_id: '583231',
      workflow: 'build',
      workflow_ref: `${repository}/.github/workflows/build.yml@${ref}`,
      job_workflow_ref: `${repository}/.github/workflows/build.yml@${ref}`,
      event_name: 'push',
      ref_type: 'branch',
      ref_protected: 'true',
      head_ref: '',
      base_ref: '',
      runner_environment: 'github-hosted',
    })
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
      .setIssuer(url)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + lifetime)
      .sign(privateKey);
  };

  return {
    url,
    jwks,
    mint,
    get hits() {
      return hits;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
