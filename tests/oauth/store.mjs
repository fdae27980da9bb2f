// In-memory storage adapter for oidc-provider, for the test authorization server (server.mjs).
// Not the library's own memory adapter: that one is an LRU of 1,000 entries, which a long test run (many refreshes,
// each leaving a consumed refresh token behind for reuse detection) can overflow, silently losing grants. This one
// keeps every entry until it expires, and lets the test controls revoke a token or all of a user's grants.

const entries = new Map(); // `${model}:${id}` -> { payload, expiresAt (ms, Infinity = never) }
const grantMembers = new Map(); // grantId -> Set of entry keys that belong to the grant
const byUserCode = new Map(); // device flow user code -> DeviceCode id
const bySessionUid = new Map(); // session uid -> Session id

function live(key) {
  const entry = entries.get(key);
  if (entry === undefined) return undefined;
  if (entry.expiresAt <= Date.now()) {
    drop(key);
    return undefined;
  }
  return entry;
}

function drop(key) {
  const entry = entries.get(key);
  if (entry === undefined) return;
  entries.delete(key);
  const { grantId, userCode, uid } = entry.payload;
  const members = grantId ? grantMembers.get(grantId) : undefined;
  if (members) {
    members.delete(key);
    if (members.size === 0) grantMembers.delete(grantId);
  }
  const id = key.slice(key.indexOf(':') + 1);
  if (userCode && byUserCode.get(userCode) === id) byUserCode.delete(userCode);
  if (uid && bySessionUid.get(uid) === id) bySessionUid.delete(uid);
}

// Removes a grant and every artifact issued under it (access and refresh tokens, codes).
export function revokeGrant(grantId) {
  for (const key of grantMembers.get(grantId) ?? []) drop(key);
  grantMembers.delete(grantId);
  drop(`Grant:${grantId}`);
}

// Test control: revoke one token by value. A refresh token takes its whole grant along (what RFC 7009 revocation of
// a refresh token does here too); an access token goes alone. Returns what was found.
export function revokeTokenValue(value) {
  if (live(`RefreshToken:${value}`)) {
    revokeGrant(entries.get(`RefreshToken:${value}`).payload.grantId);
    return 'refresh_token';
  }
  if (live(`AccessToken:${value}`)) {
    drop(`AccessToken:${value}`);
    return 'access_token';
  }
  return null;
}

// Test control: what a user revoking the app's access in the provider's account page does. Returns the count.
export function revokeUserGrants(accountId) {
  const grants = [];
  for (const [key, entry] of entries) {
    if (key.startsWith('Grant:') && entry.payload.accountId === accountId) grants.push(key.slice(6));
  }
  grants.forEach(revokeGrant);
  return grants.length;
}

// Test control: the access tokens a user holds stop working (revoked or killed by the provider), while the refresh
// tokens stay good: what a client then sees is an error challenge that a refresh heals. Returns the count.
export function revokeUserAccessTokens(accountId) {
  const keys = [];
  for (const [key, entry] of entries) {
    if (key.startsWith('AccessToken:') && entry.payload.accountId === accountId) keys.push(key);
  }
  keys.forEach(drop);
  return keys.length;
}

// Expired entries are dropped when looked up, and by this sweep (so the map does not grow without bound).
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of entries) if (entry.expiresAt <= now) drop(key);
}, 30_000).unref();

export default class Store {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    drop(key);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    entries.set(key, { payload, expiresAt });
    if (payload.grantId && this.model !== 'Grant') {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (payload.userCode) byUserCode.set(payload.userCode, id);
    if (this.model === 'Session' && payload.uid) bySessionUid.set(payload.uid, id);
  }

  async find(id) {
    return live(this.key(id))?.payload;
  }

  async findByUserCode(userCode) {
    const id = byUserCode.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUid(uid) {
    const id = bySessionUid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = live(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    drop(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const prefix = `${this.model}:`;
    for (const key of [...(grantMembers.get(grantId) ?? [])]) {
      if (key.startsWith(prefix)) drop(key);
    }
  }
}
