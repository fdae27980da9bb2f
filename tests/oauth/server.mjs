// OAuth2 authorization server for mailgate's integration tests (started by tests/integration/oauth_rig.py): the
// certified oidc-provider on HTTPS, with device authorization (RFC 8628), authorization code + PKCE for loopback
// redirects (RFC 8252 §7.3), refresh-token rotation with reuse detection, introspection (RFC 7662) for Dovecot's
// oauth2 passdb and revocation (RFC 7009). Plus what tests need: any login name is an account, a JSON-lines log of
// token/introspection/revocation requests (never a token value), and a plain-HTTP control port on 127.0.0.1.
//
// node server.mjs --port P --cert F --key F --log F --ready-file F --control-port P --control-secret S
//                 [--host 127.0.0.1] [--issuer URL] [--access-token-ttl 3600] [--access-token-bytes 43]
//                 [--refresh-token-ttl 1209600] [--device-interval 1]
// Every option may also come from the environment as MAILGATE_AS_<OPTION> (upper case, '-' -> '_').
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

import Store, { revokeTokenValue, revokeUserAccessTokens, revokeUserGrants } from './store.mjs';

// ------------------------------------------------------------------ options
const OPTIONS = {
  host: '127.0.0.1', port: '', issuer: '', cert: '', key: '', log: '', 'ready-file': '',
  'control-port': '', 'control-secret': '',
  'access-token-ttl': '3600', 'access-token-bytes': '43', 'refresh-token-ttl': String(14 * 24 * 3600),
  'device-interval': '1',
};
const { values: argv } = parseArgs({
  options: Object.fromEntries(Object.keys(OPTIONS).map((name) => [name, { type: 'string' }])),
});
const opt = (name) => argv[name] ?? process.env[`MAILGATE_AS_${name.toUpperCase().replaceAll('-', '_')}`]
  ?? OPTIONS[name];
for (const name of ['port', 'cert', 'key', 'log', 'ready-file', 'control-port', 'control-secret']) {
  if (!opt(name)) {
    console.error(`server.mjs: --${name} is required`);
    process.exit(2);
  }
}
const positiveInt = (name, value, min = 1) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  return n;
};

const host = opt('host');
const port = positiveInt('port', opt('port'));
const issuer = opt('issuer') || `https://${host}:${port}`;
const logPath = opt('log');

// Mutable through the control port. Access-token bytes: an opaque token is that many base64url characters of
// randomness (oidc-provider: ceil(bits / 6) characters), so 3000 gives exactly 3,000-byte tokens.
const state = {
  tokenEndpointDown: false,
  accessTokenTtl: positiveInt('access-token-ttl', opt('access-token-ttl')),
  accessTokenBytes: positiveInt('access-token-bytes', opt('access-token-bytes'), 22),
  refreshTokenTtl: positiveInt('refresh-token-ttl', opt('refresh-token-ttl')),
  deviceInterval: positiveInt('device-interval', opt('device-interval')),
  // Forced answers for the next token requests: [{ error, status, description, grant_type (null = any), left }].
  forcedTokenErrors: [],
};

// ------------------------------------------------------------------ clients, scopes, accounts
const MAIL_RESOURCE = 'urn:mailgate:mail';
const LOOPBACK_REDIRECT = 'http://127.0.0.1/oauth/callback'; // any port matches (application_type native)
const USER_GRANTS = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'];
const CLIENTS = [
  { client_id: 'mailgate-public', token_endpoint_auth_method: 'none' },
  { client_id: 'mailgate-confidential', client_secret: 'mailgate-confidential-secret',
    token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'mailgate-confidential-post', client_secret: 'mailgate-confidential-post-secret',
    token_endpoint_auth_method: 'client_secret_post' },
].map((c) => ({
  ...c, application_type: 'native', grant_types: USER_GRANTS, response_types: ['code'],
  redirect_uris: [LOOPBACK_REDIRECT, 'http://localhost/oauth/callback'],
}));
// Dovecot's oauth2 passdb introspects with these (a resource server: no grants of its own).
const RESOURCE_SERVER = {
  client_id: 'mailgate-dovecot', client_secret: 'mailgate-dovecot-secret',
  token_endpoint_auth_method: 'client_secret_basic', grant_types: [], response_types: [], redirect_uris: [],
};

// ------------------------------------------------------------------ log
function log(entry) {
  appendFileSync(logPath, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}

// ------------------------------------------------------------------ pages
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body><h1>${esc(title)}</h1>
${body}
</body></html>`;

async function userCodeInputSource(ctx, form, out, err) {
  // An abort (at the confirmation or the consent page) ends here too: that is the user's "no", not an error.
  if (err?.name === 'AbortedError') {
    ctx.body = page('Device not connected', '<p id="aborted">The request was denied; you may close this page.</p>');
    return;
  }
  const message = err ? `<p id="device-error">${esc(err.message)}${err.userCode ? `: ${esc(err.userCode)}` : ''}</p>`
    : '<p>Enter the code shown on your device.</p>';
  ctx.body = page('Connect a device',
    `${message}\n${form}\n<button type="submit" form="op.deviceInputForm">Continue</button>`);
}

async function userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
  ctx.body = page('Confirm device', `<p>Client <strong id="client">${esc(client.clientId)}</strong> shows the code
<code id="user-code">${esc(userCode)}</code>.</p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`);
}

async function successSource(ctx) {
  ctx.body = page('Device connected', '<p id="done">You may close this page.</p>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('Error',
    `<p id="error">${esc(out.error)}</p><p id="error-description">${esc(out.error_description)}</p>`);
}

// ------------------------------------------------------------------ provider
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const configuration = {
  adapter: Store,
  clients: [...CLIENTS, RESOURCE_SERVER],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'ES256', kid: 'rig' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  clientBasedCORS: () => false,
  // Exact expiry: with the default 15 s tolerance a 5 s token would still introspect as active for 20 s.
  clockTolerance: 0,
  responseTypes: ['code'],
  scopes: ['openid', 'offline_access', 'email'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  async findAccount(ctx, sub) {
    // Any login name is an account, and the account id (sub) is the login name: alice@example.test.
    return { accountId: sub, async claims() { return { sub, email: sub, email_verified: true }; } };
  },
  // In every access token's introspection answer: Dovecot maps the token to the mailbox by this claim.
  async extraTokenClaims(ctx, token) {
    return token.accountId ? { email: token.accountId } : undefined;
  },
  // Refresh tokens for every flow of a client allowed the grant, with or without offline_access.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // Always rotate; a consumed refresh token presented again revokes its whole grant (reuse detection,
  // actions/grants/refresh_token.js: "refresh token already used").
  rotateRefreshToken: true,
  formats: {
    bitsOfOpaqueRandomness(ctx, token) {
      return token.kind === 'AccessToken' ? state.accessTokenBytes * 6 : 256;
    },
  },
  ttl: {
    AccessToken: () => state.accessTokenTtl,
    AuthorizationCode: 60,
    DeviceCode: 600,
    Grant: 14 * 24 * 3600,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: () => state.refreshTokenTtl,
    Session: 3600,
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError,
  features: {
    devInteractions: { enabled: false }, // our own minimal login and consent pages below
    deviceFlow: { enabled: true, userCodeInputSource, userCodeConfirmSource, successSource },
    revocation: { enabled: true },
    introspection: {
      enabled: true,
      async allowedPolicy(ctx, client, token) {
        // The mail server must see only access tokens as active: a refresh token is no bearer credential.
        if (client.clientId === RESOURCE_SERVER.client_id) return token.kind === 'AccessToken';
        return client.clientAuthMethod !== 'none' || token.clientId === client.clientId;
      },
    },
    // Access tokens are for the mail resource (scope "mail") even when the client names no resource, and stay
    // opaque: oidc-provider refuses to introspect JWT access tokens, and Dovecot 2.3 here validates by introspection.
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf ?? MAIL_RESOURCE,
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, indicator) {
        if (indicator !== MAIL_RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'mail', audience: MAIL_RESOURCE, accessTokenTTL: state.accessTokenTtl, accessTokenFormat: 'opaque',
        };
      },
    },
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', ctx?.path, err));

// ------------------------------------------------------------------ helpers for the middleware
const BODY_LIMIT = 64 * 1024;
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function basicClientId(ctx) {
  const header = ctx.get('authorization');
  if (!/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  try {
    return decodeURIComponent((colon === -1 ? decoded : decoded.slice(0, colon)).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function takeForcedError(grantType) {
  const i = state.forcedTokenErrors.findIndex((f) => f.grant_type === null || f.grant_type === grantType);
  if (i === -1) return undefined;
  const forced = state.forcedTokenErrors[i];
  forced.left -= 1;
  if (forced.left <= 0) state.forcedTokenErrors.splice(i, 1);
  return forced;
}

// ------------------------------------------------------------------ token endpoint: log, down, forced errors
async function tokenEndpoint(ctx, next) {
  // Read the form here so that even a refused request is logged with its grant type; oidc-provider then takes the
  // already-read body (it warns once that an upstream parser did so).
  const raw = await readBody(ctx.req);
  ctx.req.body = raw;
  const form = new URLSearchParams(raw);
  const entry = {
    endpoint: 'token',
    grant_type: form.get('grant_type'),
    client_id: form.get('client_id') ?? basicClientId(ctx) ?? null,
  };
  const forced = state.tokenEndpointDown
    ? { status: 503, error: 'temporarily_unavailable', description: 'token endpoint is down (test control)' }
    : takeForcedError(entry.grant_type);
  if (forced) {
    ctx.status = forced.status;
    ctx.set('cache-control', 'no-store');
    ctx.body = { error: forced.error, error_description: forced.description };
    log({ ...entry, status: forced.status, result: forced.error, forced: true });
    return;
  }
  await next();
  const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
  log({
    ...entry,
    status: ctx.status,
    result: ctx.status === 200 ? 'ok' : body.error ?? `http_${ctx.status}`,
    error_description: ctx.status === 200 ? undefined : body.error_description,
    sub: ctx.status === 200 ? ctx.oidc?.entities?.Account?.accountId : undefined,
    scope: body.scope,
    expires_in: body.expires_in,
    access_token_bytes: typeof body.access_token === 'string' ? body.access_token.length : undefined,
    refresh_token_issued: ctx.status === 200 ? typeof body.refresh_token === 'string' : undefined,
    rotated: ctx.status === 200 && ctx.oidc?.entities?.RotatedRefreshToken !== undefined ? true : undefined,
  });
}

// ------------------------------------------------------------------ login and consent (our interactions)
async function interaction(ctx) {
  const [, , uid, action] = ctx.path.split('/'); // /interaction/<uid>[/<action>]
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.body = page('Error', `<p id="error">${esc(err.message)}</p>`);
    return;
  }
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.body = page('Error', '<p id="error">interaction mismatch</p>');
    return;
  }
  const { prompt, params, session } = details;
  const finish = async (result, merge) => {
    ctx.status = 303;
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge }));
  };

  if (ctx.method === 'GET' && action === undefined) {
    ctx.set('cache-control', 'no-store');
    if (prompt.name === 'login') {
      ctx.body = page('Sign in', `<form id="login" method="post" action="/interaction/${esc(uid)}/login">
<input type="text" name="login" value="${esc(params.login_hint)}" placeholder="Any login, e.g. alice@example.test">
<input type="password" name="password" placeholder="Any password">
<button type="submit">Sign in</button>
</form>`);
    } else if (prompt.name === 'consent') {
      const scopes = [...(prompt.details.missingOIDCScope ?? []),
        ...Object.values(prompt.details.missingResourceScopes ?? {}).flat()];
      ctx.body = page('Allow access', `<p><strong id="client">${esc(params.client_id)}</strong> asks for
<span id="scopes">${esc(scopes.join(' '))}</span> on behalf of <span id="account">${esc(session?.accountId)}</span>.</p>
<form id="consent" method="post" action="/interaction/${esc(uid)}/consent">
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`);
    } else {
      ctx.status = 501;
      ctx.body = page('Error', `<p id="error">prompt ${esc(prompt.name)} not implemented</p>`);
    }
    return;
  }

  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return;
  }
  const form = new URLSearchParams(await readBody(ctx.req));
  if (action === 'login' && prompt.name === 'login') {
    const login = (form.get('login') ?? '').trim();
    if (!login) {
      ctx.status = 400;
      ctx.body = page('Error', '<p id="error">login required</p>');
      return;
    }
    log({ endpoint: 'interaction', prompt: 'login', client_id: params.client_id, account: login });
    await finish({ login: { accountId: login } }, false);
  } else if (action === 'consent' && prompt.name === 'consent') {
    const decision = form.get('decision');
    log({
      endpoint: 'interaction', prompt: 'consent', client_id: params.client_id, account: session?.accountId, decision,
    });
    if (decision !== 'approve') {
      await finish({ error: 'access_denied', error_description: 'End-User denied the authorization' }, false);
      return;
    }
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    await finish({ consent: { grantId: await grant.save() } }, true);
  } else {
    ctx.status = 400;
    ctx.body = page('Error', `<p id="error">unexpected ${esc(action)} for prompt ${esc(prompt.name)}</p>`);
  }
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/token' && ctx.method === 'POST') {
    await tokenEndpoint(ctx, next);
    return;
  }
  if (ctx.path.startsWith('/interaction/')) {
    await interaction(ctx);
    return;
  }
  await next();
  const route = ctx.oidc?.route;
  const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
  const base = { endpoint: route, client_id: ctx.oidc?.client?.clientId ?? null, status: ctx.status };
  if (route === 'device_authorization') {
    // RFC 8628 §3.2: without "interval" clients wait 5 s between polls; tests want less.
    if (ctx.status === 200) body.interval = state.deviceInterval;
    log({ ...base, result: ctx.status === 200 ? 'ok' : body.error });
  } else if (route === 'introspection') {
    log({ ...base, result: ctx.status === 200 ? 'ok' : body.error, active: body.active,
      sub: body.active ? body.sub : undefined });
  } else if (route === 'revocation') {
    log({ ...base, result: ctx.status === 200 ? 'ok' : body.error });
  }
});

// ------------------------------------------------------------------ control port (plain HTTP, 127.0.0.1 only)
const controlSecret = Buffer.from(`Bearer ${opt('control-secret')}`);
const authorized = (req) => {
  const got = Buffer.from(req.headers.authorization ?? '');
  return got.length === controlSecret.length && timingSafeEqual(got, controlSecret);
};
let listening = false;
const server = https.createServer({ cert: readFileSync(opt('cert')), key: readFileSync(opt('key')) },
  provider.callback());

function setListening(on) {
  if (on === listening) return Promise.resolve();
  listening = on;
  if (!on) {
    // "The AS is unreachable" with its state kept: new connections are refused, open ones are cut.
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function publicState() {
  return {
    token_endpoint_down: state.tokenEndpointDown, listening, access_token_ttl: state.accessTokenTtl,
    access_token_bytes: state.accessTokenBytes, refresh_token_ttl: state.refreshTokenTtl,
    device_interval: state.deviceInterval,
    forced_token_errors: state.forcedTokenErrors.map(({ left, ...f }) => ({ ...f, count: left })),
  };
}

async function control(body) {
  const result = {};
  if ('token_endpoint_down' in body) state.tokenEndpointDown = body.token_endpoint_down === true;
  if ('access_token_ttl' in body) state.accessTokenTtl = positiveInt('access_token_ttl', body.access_token_ttl);
  if ('access_token_bytes' in body) {
    state.accessTokenBytes = positiveInt('access_token_bytes', body.access_token_bytes, 22);
  }
  if ('refresh_token_ttl' in body) state.refreshTokenTtl = positiveInt('refresh_token_ttl', body.refresh_token_ttl);
  if ('device_interval' in body) state.deviceInterval = positiveInt('device_interval', body.device_interval);
  if ('fail_token_requests' in body) {
    const f = body.fail_token_requests;
    if (f === null) {
      state.forcedTokenErrors = [];
    } else {
      if (typeof f.error !== 'string' || !/^[\x20-\x7e]+$/.test(f.error)) throw new RangeError('error must be ASCII');
      state.forcedTokenErrors.push({
        error: f.error, status: positiveInt('status', f.status ?? 400, 400), description: f.description ?? undefined,
        grant_type: f.grant_type ?? null, left: positiveInt('count', f.count ?? 1),
      });
    }
  }
  if ('revoke_token' in body) result.revoked = revokeTokenValue(String(body.revoke_token));
  if ('revoke_user' in body) result.revoked_grants = revokeUserGrants(String(body.revoke_user));
  if ('revoke_access_tokens_of' in body) result.revoked_access_tokens = revokeUserAccessTokens(String(body.revoke_access_tokens_of));
  if ('listening' in body) await setListening(body.listening === true);
  return { ...result, state: publicState() };
}

const controlServer = http.createServer(async (req, res) => {
  const reply = (status, obj) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
  try {
    if (!authorized(req)) return reply(401, { error: 'unauthorized' });
    if (req.url !== '/control') return reply(404, { error: 'not found' });
    if (req.method === 'GET') return reply(200, { state: publicState() });
    if (req.method !== 'POST') return reply(405, { error: 'method not allowed' });
    const body = JSON.parse(await readBody(req) || '{}');
    return reply(200, await control(body));
  } catch (err) {
    return reply(400, { error: err.message });
  }
});

// ------------------------------------------------------------------ start, ready file, shutdown
await setListening(true);
await new Promise((resolve, reject) => {
  controlServer.once('error', reject);
  controlServer.listen(positiveInt('control-port', opt('control-port')), '127.0.0.1', resolve);
});
const ready = opt('ready-file');
// What oauth_rig.py learns from here rather than repeating: ports, clients, the mail scope and resource.
const clientInfo = (c) => ({ client_id: c.client_id, client_secret: c.client_secret ?? null,
  auth_method: c.token_endpoint_auth_method, redirect_uris: c.redirect_uris });
writeFileSync(`${ready}.tmp`, JSON.stringify({
  issuer, port, control_port: controlServer.address().port, pid: process.pid,
  clients: {
    public: clientInfo(CLIENTS[0]), confidential: clientInfo(CLIENTS[1]), confidential_post: clientInfo(CLIENTS[2]),
    resource_server: clientInfo(RESOURCE_SERVER),
  },
  mail_scope: 'mail', mail_resource: MAIL_RESOURCE, username_claim: 'email',
}));
renameSync(`${ready}.tmp`, ready);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.closeAllConnections();
    controlServer.closeAllConnections();
    process.exit(0);
  });
}
