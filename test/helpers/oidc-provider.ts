// A real, independent OIDC issuer for tests: npm `oidc-provider` (panva) on 127.0.0.1, with a
// client_credentials client and resource indicators, so it issues RS256 JWT access tokens
// for an audience. Discovery, JWKS and signing are all oidc-provider's own.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

export interface RealIssuer {
  /** The issuer (`iss`), http://127.0.0.1:PORT */
  url: string;
  audience: string;
  clientId: string;
  /** Requests the issuer has served, by path. */
  hits: Map<string, number>;
  /** A fresh JWT access token from the token endpoint (client_credentials grant). */
  accessToken(): Promise<string>;
  close(): Promise<void>;
}

export interface RealIssuerOptions {
  audience?: string;
  clientId?: string;
  clientSecret?: string;
  /** Access token lifetime, seconds. */
  ttl?: number;
}

// No type declarations ship with oidc-provider; load it through a non-literal specifier.
const MODULE = 'oidc-provider';
type ProviderCtor = new (
  issuer: string,
  config: Record<string, unknown>,
) => { callback(): (req: unknown, res: unknown) => void };

export async function startRealIssuer(opts: RealIssuerOptions = {}): Promise<RealIssuer> {
  const audience = opts.audience ?? 'registry.test';
  const clientId = opts.clientId ?? 'ci-runner';
  const clientSecret = opts.clientSecret ?? 'ci-runner-secret';
  const ttl = opts.ttl ?? 300;
  const mod = (await import(MODULE)) as { default: ProviderCtor };
  const Provider = mod.default;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'oidc-provider-rs256', alg: 'RS256', use: 'sig' };

  const server: Server = createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const provider = new Provider(url, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    ttl: { ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:purser:registry',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'registry',
          audience,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  const hits = new Map<string, number>();
  const cb = provider.callback();
  server.on('request', (req: { url?: string }, res: unknown) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    cb(req, res);
  });

  let tokenEndpoint: string | undefined;
  return {
    url,
    audience,
    clientId,
    hits,
    accessToken: async () => {
      if (!tokenEndpoint) {
        const d = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as {
          token_endpoint: string;
        };
        tokenEndpoint = d.token_endpoint;
      }
      const res = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        },
        body: 'grant_type=client_credentials&scope=registry',
      });
      const body = (await res.json()) as { access_token?: string };
      if (res.status !== 200 || !body.access_token)
        throw new Error(`oidc-provider token endpoint: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
