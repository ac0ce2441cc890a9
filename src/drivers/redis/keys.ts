import { codeTag, loginTag, sha256 } from '../../login/tokens.js'
import { userTokenId } from '../../oauth/user-token-id.js'

/**
 * 'single': one Redis (REDIS_URL), every name exactly as documented below. 'cluster': Redis Cluster
 * (REDIS_CLUSTER_NODES), where the keys one script or transaction touches together carry one hash
 * tag (see keyGroup), and BullMQ's prefix carries `{bull}`.
 */
export type RedisLayout = 'single' | 'cluster'

/**
 * Every name this service gives Redis: keys, pub/sub channels, the prefixes under which BullMQ and
 * @fastify/rate-limit name their own keys, and the connection names CLIENT LIST shows. Nothing
 * else in the code builds one. Each starts with REDIS_PREFIX, so two deployments can share a Redis,
 * and each is documented here with what it holds, how long it lives, and what a dump reveals.
 *
 * Names below are those of the single layout. The cluster layout inserts a hash tag in braces right
 * after the prefix in the names of a group (keyGroup): with REDIS_PREFIX=wql:, a login's hash is
 * `wql:{AbC_}login:<scene>`, where AbC_ is its tag (src/login/tokens.ts, loginTag).
 *
 * A dump (SCAN, an RDB or AOF file, a replica) never holds a browser secret, API_KEY, the Token,
 * the EncodingAESKey or the app secret. It does hold the live access token, the openids of recent
 * logins and the one-time codes of confirmed ones (still redeemable for LOGIN_CODE_TTL_SECONDS,
 * with API_KEY): guard the Redis and its backups like the app secret.
 */
export interface RedisKeyspace {
  /**
   * Hash: one login (scene, secretHash, status, createdAt, expiresAt; requesterIp, requesterOrigin,
   * requesterUserAgent of the browser that asked for it; scannedAt and scannedBy, the first
   * scanner's openid, once scanned; code, codeExpiresAt, confirmedAt once confirmed; deniedAt once
   * denied). Lives LOGIN_TTL_SECONDS + LOGIN_CODE_TTL_SECONDS + 60 s (late readers see "expired").
   * Reveals: the sha256 of the browser secret (not the secret), the IP address and User-Agent that
   * asked for each recent login and the openid that scanned it, and once confirmed the login code
   * in plain text, which the page reads here.
   */
  login (scene: string): string
  /**
   * String: the identity a login code redeems (openid, unionid, scene, subscribed, confirmedAt, as
   * JSON). Named by the code's sha256, so listing keys reveals no code. Lives LOGIN_CODE_TTL_SECONDS,
   * deleted when redeemed. Reveals: the openid (and unionid) of each recent login.
   */
  loginCode (code: string): string
  /**
   * Channel (not a key, never in a dump): "this login changed, look again". Messages carry no data.
   * Distinct from the login's key so that a pattern over keys never matches a channel, or back. On
   * a cluster it is a sharded channel (SSUBSCRIBE) with the login's tag: published only on the
   * node that holds the login, not broadcast to every node.
   */
  loginChannel (scene: string): string
  /**
   * String: the fingerprint (sha256 of the fields) of the body a plaintext push's `signature` first
   * came with. Lives twice WECHAT_TIMESTAMP_TOLERANCE_SECONDS (the window a signature is accepted in).
   * Reveals: which signatures WeChat recently used, worthless outside their timestamp window.
   */
  webhookSignature (signature: string): string
  /**
   * Hash: one OAuth authorization in flight (flow, scope, return_to, the browser cookie's hash,
   * status), named by the state's sha256; its answer to a repeated callback is AES-GCM sealed. Lives
   * OAUTH_STATE_TTL_SECONDS + 60 s. Reveals: no state WeChat would accept, no code.
   */
  oauthState (state: string): string
  /**
   * String: a user's OAuth access and refresh tokens, AES-GCM sealed with TOKEN_ENC_KEY, named by
   * sha256(app id, openid). Lives until the refresh token ends (30 days). Reveals: neither token,
   * nor the openid.
   */
  oauthUserTokens (appId: string, openid: string): string
  /** The shared access token of one app id and its refresh lock; the names are in the README. */
  accessToken (appId: string): AccessTokenKeys
  /**
   * BullMQ's own prefix (`{prefix}bull`; on a cluster `{prefix}{bull}`, BullMQ's way to keep a
   * queue's keys in one slot, as its scripts need): it keeps the queue under `{bullPrefix}:wechat-events:*` (waiting, active,
   * completed and failed jobs, deduplication keys `…:de:{openid}:{CreateTime}:{Event}` for twice
   * WECHAT_TIMESTAMP_TOLERANCE_SECONDS, at least 120 s).
   * A job holds scene, openid, event and CreateTime; completed jobs stay an hour (at most 1000),
   * failed ones a day (at most 5000). Reveals: who scanned which login, when.
   */
  bullPrefix: string
  /**
   * @fastify/rate-limit's prefix: one counter per limit and client, `qr:ip:{ip}`, `qr:all`,
   * `status:ip:{ip}`, `socket:ip:{ip}`, `exchange:key:{sha256 of the presented key}`, the OAuth
   * routes' `oauth-…:ip:{ip}`, each living its one-minute window ({ip}: an IPv4 address, or an IPv6
   * /64 as `a:b:c:d::/64`); and `qr:day:{YYYY-MM-DD}`, the logins of one Beijing day, living a day
   * and an hour. Reveals: the IP addresses (IPv6 networks) of recent clients.
   */
  rateLimitPrefix: string
  /**
   * What CLIENT LIST names each connection of the Redis drivers (BullMQ names its own under
   * bullPrefix). On a cluster ioredis names its subscriber connections
   * `ioredis-cluster(subscriber):{name}` and `ioredis-cluster(ssubscriber):{name}`.
   */
  connectionName (role: ConnectionRole): string
}

export interface AccessTokenKeys {
  /**
   * String: `{token, expiresAt, refreshAt, fence}` as JSON, expiring with the token (≤ 2 h).
   * Reveals: the live access token, which calls WeChat's APIs as the Official Account.
   */
  token: string
  /** String: the refresh lock, holding its holder's fence; lives WECHAT_RETRY_DEADLINE_MS + WECHAT_TIMEOUT_MS + 1 s. */
  lock: string
  /** Counter: the last fence handed out. Lives 30 days after the lock was last taken. */
  fence: string
  /** String '1': a forced refresh was claimed; lives 60 s. */
  forced: string
  /**
   * Channel (not a key): "a token was stored" / "a refresh ended", to wake the waiters. Plain
   * pub/sub on a cluster too: the lock scripts publish it, a few times per token lifetime (≤ 2 h).
   */
  updated: string
}

export type ConnectionRole = 'commands' | 'login-subscriber' | 'token-subscriber' | 'worker'

/**
 * The only keys of ours without a TTL: BullMQ's structures of a queue, `{bullPrefix}:{queue}:{name}`,
 * each bounded. `events` is a stream BullMQ trims to 10 000 entries; `completed` and `failed` hold
 * the retained jobs (an hour and at most 1000, a day and at most 5000); `wait`, `active`, `delayed`,
 * `prioritized`, `paused` the jobs in flight; the rest are a few fields or counters. Beside these, a
 * job's own hash `{bullPrefix}:{queue}:{jobId}` lives as long as one of them lists the job. Every
 * other key expires (test/faults/orphans.test.ts checks it after every kind of flow).
 */
export const BULL_QUEUE_STRUCTURES: readonly string[] = Object.freeze([
  'meta', 'id', 'events', 'marker', 'pc', 'limiter', 'stalled',
  'wait', 'paused', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'
])

export function redisKeyspace (prefix: string, layout: RedisLayout = 'single'): RedisKeyspace {
  const group = keyGroup(prefix, layout)

  return {
    // CONFIRM writes a login's hash and its code's key in one script: both carry the login's tag.
    login: (scene) => group(loginTag(scene), `login:${scene}`),
    loginCode: (code) => group(codeTag(code), `code:${sha256(code)}`),
    loginChannel: (scene) => group(loginTag(scene), `login-changed:${scene}`),
    webhookSignature: (signature) => `${prefix}webhook-signature:${signature}`,
    oauthState: (state) => `${prefix}oauth:state:${sha256(state)}`,
    oauthUserTokens: (appId, openid) => `${prefix}oauth:user:${userTokenId(appId, openid)}`,

    accessToken (appId) {
      // The lock scripts touch the token, its lock and its fence together: one tag per app id.
      const token = `wechat:access-token:${appId}`
      return {
        token: group(appId, token),
        lock: group(appId, `${token}:lock`),
        fence: group(appId, `${token}:fence`),
        forced: group(appId, `${token}:forced`),
        updated: `${prefix}${token}:updated`
      }
    },

    bullPrefix: layout === 'single' ? `${prefix}bull` : `${prefix}{bull}`,
    rateLimitPrefix: `${prefix}rate-limit:`,
    connectionName: (role) => `${prefix}${role}`
  }
}

/**
 * Names the keys of a group: keys that one Lua script or transaction touches together, named by
 * the group's tag. On one Redis a name is the deployment's prefix and the name, the tag unused (the
 * names the README documents, unchanged so that a rolling upgrade strands nothing). Redis Cluster
 * runs a multi-key script only when all its keys hash to one slot: there the tag goes in braces
 * after the prefix, and Redis hashes only what is inside. One tag per login and per app id, not one
 * for all, so the groups spread over every node. A key no script shares with another needs no tag:
 * its whole name spreads it. REDIS_PREFIX allows no braces, so the tag is always the first pair.
 */
function keyGroup (prefix: string, layout: RedisLayout): (tag: string, name: string) => string {
  if (layout === 'single') return (_tag, name) => `${prefix}${name}`
  return (tag, name) => `${prefix}{${tag}}${name}`
}
