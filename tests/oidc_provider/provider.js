// A real OpenID provider for Tandem's single sign-on tests: panva's oidc-provider (OpenID Certified), run with
// Node on 127.0.0.1. Test tool only — never deployed.
//
//   node provider.js [PORT]        (PORT or OIDC_TEST_PORT; 0 or none = any free port)
//
// Environment:
//   OIDC_TEST_CLIENT_ID, OIDC_TEST_CLIENT_SECRET    the one registered client (confidential, client_secret_basic)
//   OIDC_TEST_REDIRECT_URIS                         comma-separated redirect URIs of that client
//   OIDC_TEST_POST_LOGOUT_REDIRECT_URIS             comma-separated post-logout redirect URIs
//   OIDC_TEST_USERS       JSON list of people: {"sub", "email", "email_verified", "name", "groups", …any claim}
//   OIDC_TEST_ID_TOKEN_TTL                          ID token lifetime in seconds (default 600)
//
// The signing key (RSA, RS256) is generated at every start. Sign-in is oidc-provider's own development login form
// (devInteractions: any password; the login is the person's sub); consent is granted without asking, as for a
// first-party client. Once listening it prints one JSON line on stdout: {"issuer": "...", "port": N}.
//
// Test control (127.0.0.1 only, no auth — a test tool): POST /_test/users with a JSON person adds or replaces
// that person (by sub), so a test can change someone's email at the provider between two sign-ins.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const env = process.env;
const requestedPort = Number.parseInt(process.argv[2] ?? env.OIDC_TEST_PORT ?? '0', 10);
const list = (value) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);

const people = new Map();
for (const person of JSON.parse(env.OIDC_TEST_USERS || '[]')) {
  people.set(String(person.sub), person);
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

const page = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;

const server = createServer();
server.listen(Number.isNaN(requestedPort) ? 0 : requestedPort, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: env.OIDC_TEST_CLIENT_ID || 'tandem',
        client_secret: env.OIDC_TEST_CLIENT_SECRET || 'tandem-secret',
        client_name: 'Tandem',
        redirect_uris: list(env.OIDC_TEST_REDIRECT_URIS),
        post_logout_redirect_uris: list(env.OIDC_TEST_POST_LOGOUT_REDIRECT_URIS),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'department'],
      groups: ['groups', 'role'],
    },
    async findAccount(ctx, sub) {
      if (!people.has(sub)) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...people.get(sub), sub };
        },
      };
    },
    // A first-party client: grant what it asks for without a consent screen.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      await grant.save();
      ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId, grant.jti);
      return grant;
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = page(
            'Sign out of the test provider?',
            `${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`,
          );
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<p>You are signed out of the test provider.</p>');
        },
      },
    },
    ttl: {
      IdToken: Number.parseInt(env.OIDC_TEST_ID_TOKEN_TTL || '600', 10),
      AccessToken: 600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Provider error', `<pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`);
    },
  });

  provider.use(async (ctx, next) => {
    if (ctx.path !== '/_test/users' || ctx.method !== 'POST') return next();
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const person = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    people.set(String(person.sub), person);
    ctx.status = 204;
    return undefined;
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
