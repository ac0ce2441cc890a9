import type { Redis, Result } from 'ioredis'
import type { LoginStore } from '../../login/store.js'
import type { Identity, LoginRecord, Requester, StoredStatus, TransitionResult } from '../../login/types.js'
import type { RedisKeyspace } from './keys.js'

// Every transition refuses a login past its expiresAt even while the key still exists (it is kept
// a while after expiry so late readers see "expired"); confirmed and denied are final. A login
// scanned before scannedBy existed (an older version stored none) belongs to whoever scans it.
const FINAL_OR_EXPIRED = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'confirmed' then return 'already_confirmed' end
if status == 'denied' then return 'already_denied' end
if tonumber(redis.call('HGET', KEYS[1], 'expiresAt')) <= tonumber(ARGV[1]) then return 'expired' end
`

/** A decision (confirm, deny) is the scanner's alone: ARGV[2] is the deciding openid. */
const SCANNER_ONLY = `
if status ~= 'scanned' then return 'not_scanned' end
local scannedBy = redis.call('HGET', KEYS[1], 'scannedBy')
if scannedBy and scannedBy ~= ARGV[2] then return 'another_scanner' end
`

const MARK_SCANNED = `${FINAL_OR_EXPIRED}
if status == 'scanned' then
  local scannedBy = redis.call('HGET', KEYS[1], 'scannedBy')
  if scannedBy and scannedBy ~= ARGV[2] then return 'another_scanner' end
  return 'already_scanned'
end
redis.call('HSET', KEYS[1], 'status', 'scanned', 'scannedAt', ARGV[1], 'scannedBy', ARGV[2])
return 'changed'
`

const RELEASE_SCAN = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'confirmed' then return 'already_confirmed' end
if status == 'denied' then return 'already_denied' end
if status == 'scanned' then
  local scannedBy = redis.call('HGET', KEYS[1], 'scannedBy')
  if scannedBy and scannedBy ~= ARGV[1] then return 'another_scanner' end
  redis.call('HSET', KEYS[1], 'status', 'pending')
  redis.call('HDEL', KEYS[1], 'scannedAt', 'scannedBy')
end
return 'changed'
`

const CONFIRM = `${FINAL_OR_EXPIRED}${SCANNER_ONLY}
redis.call('HSET', KEYS[1], 'status', 'confirmed', 'confirmedAt', ARGV[1], 'code', ARGV[3], 'codeExpiresAt', ARGV[4])
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
return 'changed'
`

const DENY = `${FINAL_OR_EXPIRED}${SCANNER_ONLY}
redis.call('HSET', KEYS[1], 'status', 'denied', 'deniedAt', ARGV[1])
return 'changed'
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wqlMarkScanned (loginKey: string, now: string, openid: string): Result<TransitionResult, Context>
    wqlReleaseScan (loginKey: string, openid: string): Result<TransitionResult, Context>
    wqlConfirm (loginKey: string, codeKey: string, now: string, openid: string, code: string, codeExpiresAt: string,
      identity: string, codeTtlMs: string): Result<TransitionResult, Context>
    wqlDeny (loginKey: string, now: string, openid: string): Result<TransitionResult, Context>
  }
}

/** A login is a hash, so transitions touch single fields inside Lua without JSON round trips. */
export function createRedisLoginStore (redis: Redis, keys: Pick<RedisKeyspace, 'login' | 'loginCode'>): LoginStore {
  redis.defineCommand('wqlMarkScanned', { numberOfKeys: 1, lua: MARK_SCANNED })
  redis.defineCommand('wqlReleaseScan', { numberOfKeys: 1, lua: RELEASE_SCAN })
  redis.defineCommand('wqlConfirm', { numberOfKeys: 2, lua: CONFIRM })
  redis.defineCommand('wqlDeny', { numberOfKeys: 1, lua: DENY })

  const { login: loginKey, loginCode: codeKey } = keys

  return {
    async create (record, retainMs) {
      const key = loginKey(record.scene)
      const { requester, ...flat } = record
      const fields: Record<string, string> = {}
      for (const [name, value] of Object.entries({ ...flat, ...requesterFields(requester) })) {
        if (value !== undefined) fields[name] = String(value)
      }
      const results = await redis.multi().hset(key, fields).pexpireat(key, record.expiresAt + retainMs).exec()
      // MULTI reports a failed command in its results instead of throwing: a login half-stored is none.
      const failed = results?.find(([error]) => error !== null)?.[0]
      if (results === null || failed !== undefined) throw failed ?? new Error('login not stored: transaction aborted')
    },

    async get (scene) {
      const fields = await redis.hgetall(loginKey(scene))
      return fields.status === undefined ? null : toRecord(fields)
    },

    async discard (scene) {
      await redis.del(loginKey(scene))
    },

    markScanned (scene, now, openid) {
      return redis.wqlMarkScanned(loginKey(scene), String(now), openid)
    },

    releaseScan (scene, openid) {
      return redis.wqlReleaseScan(loginKey(scene), openid)
    },

    confirm (scene, identity, code, codeTtlMs, now) {
      return redis.wqlConfirm(loginKey(scene), codeKey(code), String(now), identity.openid, code, String(now + codeTtlMs),
        JSON.stringify(identity), String(codeTtlMs))
    },

    deny (scene, openid, now) {
      return redis.wqlDeny(loginKey(scene), String(now), openid)
    },

    async issueCode (code, identity, codeTtlMs) {
      // NX: a code is never overwritten (256 random bits collide never; if they did, no one gets two identities).
      if (await redis.set(codeKey(code), JSON.stringify(identity), 'PX', codeTtlMs, 'NX') === null) throw new Error('login code already issued')
    },

    async redeemCode (code) {
      const stored = await redis.getdel(codeKey(code))
      return stored === null ? null : JSON.parse(stored) as Identity
    }
  }
}

/** A hash holds no objects: the requester is three fields of its own. */
function requesterFields (requester: Requester | undefined): Record<string, string | undefined> {
  if (requester === undefined) return {}
  return { requesterOrigin: requester.origin, requesterUserAgent: requester.userAgent, requesterIp: requester.ip }
}

function toRecord (fields: Record<string, string>): LoginRecord {
  const optionalNumber = (name: string) => fields[name] === undefined ? undefined : Number(fields[name])
  const requester: Requester | undefined = fields.requesterIp === undefined
    ? undefined
    : {
        ip: fields.requesterIp,
        ...(fields.requesterOrigin === undefined ? {} : { origin: fields.requesterOrigin }),
        ...(fields.requesterUserAgent === undefined ? {} : { userAgent: fields.requesterUserAgent })
      }
  return {
    scene: fields.scene ?? '',
    secretHash: fields.secretHash ?? '',
    status: fields.status as StoredStatus,
    createdAt: Number(fields.createdAt),
    expiresAt: Number(fields.expiresAt),
    requester,
    scannedAt: optionalNumber('scannedAt'),
    scannedBy: fields.scannedBy,
    code: fields.code,
    codeExpiresAt: optionalNumber('codeExpiresAt'),
    confirmedAt: optionalNumber('confirmedAt'),
    deniedAt: optionalNumber('deniedAt')
  }
}
