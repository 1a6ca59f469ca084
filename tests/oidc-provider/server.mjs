// A real third-party OpenID Connect server (panva/oidc-provider, pinned in package.json)
// on loopback HTTPS, for msal's generic-OIDC interop test (tests/integration/oidc_provider.rs).
//
//   node server.mjs [--port N] --cert server.pem --key server-key.pem \
//                   [--client-jwks jwks.json] [--client-secret S] [--exit-with-stdin]
//
// Every option also comes from the environment: OIDC_PORT, OIDC_TLS_CERT, OIDC_TLS_KEY,
// OIDC_CLIENT_JWKS (a file path, or the JWKS JSON itself), OIDC_CLIENT_SECRET.
// Port 0 (the default) picks a free port. When ready it prints ONE JSON line on stdout:
//   {"issuer":"https://localhost:PORT","port":PORT,"clients":{...}}
// It stops on SIGTERM / SIGINT and, with --exit-with-stdin (OIDC_EXIT_WITH_STDIN=1), when
// its stdin closes, so a test run that dies leaves no server behind.
//
// Registered clients:
//   msal-secret-client  client_secret_post
//   msal-pkjwt-client   private_key_jwt (PS256 or RS256) with the public key(s) given
//   msal-pkjwt-ps256-client, msal-pkjwt-rs256-client
//                       the same keys, but only assertions signed with that algorithm
// All: client_credentials + authorization_code + refresh_token, redirect
// http://localhost/callback, PKCE S256 required. Dev interactions are on: the login page
// takes any login and ignores the password (the account finder accepts every subject),
// the consent page takes one POST.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

function fail(message) {
  process.stderr.write(`oidc-provider test server: ${message}\n`);
  process.exit(2);
}

function options() {
  const out = {
    port: process.env.OIDC_PORT ?? '0',
    cert: process.env.OIDC_TLS_CERT,
    key: process.env.OIDC_TLS_KEY,
    clientJwks: process.env.OIDC_CLIENT_JWKS,
    clientSecret: process.env.OIDC_CLIENT_SECRET ?? 'msal-secret-client-password',
    exitWithStdin: process.env.OIDC_EXIT_WITH_STDIN === '1',
  };
  const names = {
    '--port': 'port',
    '--cert': 'cert',
    '--key': 'key',
    '--client-jwks': 'clientJwks',
    '--client-secret': 'clientSecret',
  };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--exit-with-stdin') {
      out.exitWithStdin = true;
      continue;
    }
    const name = names[argv[i]];
    if (!name) fail(`unknown argument ${argv[i]}`);
    if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
    out[name] = argv[i + 1];
    i += 1;
  }
  if (!out.cert || !out.key) fail('the TLS certificate and key are required (--cert, --key)');
  const port = Number(out.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port ${out.port}`);
  out.port = port;
  return out;
}

function clientJwks(value) {
  if (!value) return undefined;
  const text = value.trimStart().startsWith('{') ? value : readFileSync(value, 'utf8');
  const jwks = JSON.parse(text);
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) fail('the client JWKS has no keys');
  return jwks;
}

const opts = options();

// Whoever started us is gone when stdin closes or our output pipes break: stop at once,
// even in the middle of starting up.
function stop() {
  process.exit(0);
}
if (opts.exitWithStdin) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
process.stdout.on('error', stop);
process.stderr.on('error', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const tls = { cert: readFileSync(opts.cert), key: readFileSync(opts.key) };

// The provider's own ID token / JWT access token signing key, fresh for every run.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'oidc-provider-sig-1', use: 'sig', alg: 'RS256' };

const SECRET_CLIENT = 'msal-secret-client';
const PKJWT_CLIENT = 'msal-pkjwt-client';
const PKJWT_ALG_CLIENTS = { PS256: 'msal-pkjwt-ps256-client', RS256: 'msal-pkjwt-rs256-client' };
const REDIRECT_URI = 'http://localhost/callback';
const API_RESOURCE = 'urn:msal-test:api';
const API_SCOPES = ['api:read', 'api:write'];

const common = {
  grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
};

const clients = [
  {
    ...common,
    client_id: SECRET_CLIENT,
    client_secret: opts.clientSecret,
    token_endpoint_auth_method: 'client_secret_post',
  },
];
const jwks = clientJwks(opts.clientJwks);
if (jwks) {
  clients.push({
    ...common,
    client_id: PKJWT_CLIENT,
    token_endpoint_auth_method: 'private_key_jwt',
    jwks,
  });
  for (const [alg, clientId] of Object.entries(PKJWT_ALG_CLIENTS)) {
    clients.push({
      ...common,
      client_id: clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: alg,
      jwks,
    });
  }
}

// The HTTPS server listens first: the issuer (and so the provider) needs the real port.
const server = https.createServer(tls);
server.on('error', (err) => fail(`cannot listen: ${err.message}`));
await new Promise((resolve) => { server.listen(opts.port, '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = `https://localhost:${port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', ...API_SCOPES],
  // Put the profile claims in the ID token itself (as Entra does), not only in userinfo:
  // MSAL takes the account's username from the ID token's preferred_username.
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          name: `Test user ${sub}`,
          preferred_username: `${sub}@example.test`,
          email: `${sub}@example.test`,
          email_verified: true,
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    // Client credentials (which name no resource) get a JWT access token for the test API,
    // so the test can see who it was issued to. User flows keep opaque tokens.
    resourceIndicators: {
      enabled: true,
      defaultResource(ctx, _client, oneOf) {
        if (oneOf) return oneOf;
        if (ctx.oidc.route === 'token' && ctx.oidc.params.grant_type === 'client_credentials') {
          return API_RESOURCE;
        }
        return undefined;
      },
      async getResourceServerInfo(_ctx, resource) {
        if (resource !== API_RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: API_SCOPES.join(' '),
          audience: API_RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
      useGrantedResource() { return false; },
    },
  },
  pkce: { required: () => true },
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    AuthorizationCode: 120,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 86400,
  },
});

// Logged to stderr so a failing test can show what the provider refused and why.
for (const event of ['grant.error', 'server_error', 'authorization.error', 'end_session.error']) {
  provider.on(event, (ctx, err) => {
    const detail = err?.error_detail ?? err?.error_description ?? '';
    process.stderr.write(`[${event}] ${err?.error ?? err?.name}: ${err?.message} ${detail}\n`);
  });
}

server.on('request', provider.callback());

process.stdout.write(`${JSON.stringify({
  issuer,
  port,
  clients: {
    secret: SECRET_CLIENT,
    private_key_jwt: jwks ? PKJWT_CLIENT : null,
    private_key_jwt_ps256: jwks ? PKJWT_ALG_CLIENTS.PS256 : null,
    private_key_jwt_rs256: jwks ? PKJWT_ALG_CLIENTS.RS256 : null,
  },
  redirect_uri: REDIRECT_URI,
})}\n`);
