import type { Result } from 'ioredis'
import type { RedisClient } from './connections.js'
import type { OAuthStateStore, StateClaim, StateStatus, StoredState } from '../../oauth/state-store.js'
import type { Display, OAuthFlow, OAuthScope, OAuthStateRecord, Purpose } from '../../oauth/types.js'
import type { RedisKeyspace } from './keys.js'

// Returns the outcome, then the hash's fields as HGETALL gives them (none for missing and foreign).
const CLAIM = `
local fields = redis.call('HMGET', KEYS[1], 'status', 'browserHash', 'expiresAt')
if not fields[1] then return {'missing'} end
if fields[2] ~= ARGV[1] then return {'foreign'} end
local outcome = 'taken'
if fields[1] == 'open' then
  if tonumber(fields[3]) <= tonumber(ARGV[3]) then
    outcome = 'expired'
  else
    redis.call('HSET', KEYS[1], 'status', 'claimed', 'codeHash', ARGV[2])
    outcome = 'claimed'
  end
end
local result = redis.call('HGETALL', KEYS[1])
table.insert(result, 1, outcome)
return result
`

const SETTLE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'settled', 'answer', ARGV[1])
return 1
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wqlClaimOAuthState (key: string, browserHash: string, codeHash: string, now: string): Result<string[], Context>
    wqlSettleOAuthState (key: string, answer: string): Result<number, Context>
  }
}

/** One hash per state, so the claim touches single fields inside Lua. */
export function createRedisOAuthStateStore (redis: RedisClient, keys: Pick<RedisKeyspace, 'oauthState'>): OAuthStateStore {
  redis.defineCommand('wqlClaimOAuthState', { numberOfKeys: 1, lua: CLAIM })
  redis.defineCommand('wqlSettleOAuthState', { numberOfKeys: 1, lua: SETTLE })
  const key = keys.oauthState

  return {
    async create (state, record, retainMs) {
      const stateKey = key(state)
      const fields: Record<string, string> = { status: 'open' }
      for (const [name, value] of Object.entries(record)) fields[name] = String(value)
      const results = await redis.multi().hset(stateKey, fields).pexpireat(stateKey, record.expiresAt + retainMs).exec()
      // MULTI reports a failed command in its results instead of throwing: a state half-stored is none.
      const failed = results?.find(([error]) => error !== null)?.[0]
      if (results === null || failed !== undefined) throw failed ?? new Error('OAuth state not stored: transaction aborted')
    },

    async claim (state, browserHash, codeHash, now): Promise<StateClaim> {
      const [outcome, ...pairs] = await redis.wqlClaimOAuthState(key(state), browserHash, codeHash, String(now))
      if (outcome === 'missing' || outcome === 'foreign') return { outcome }
      const stored = toStoredState(pairs)
      if (outcome === 'expired' || outcome === 'claimed' || outcome === 'taken') return { outcome, stored }
      throw new Error(`unexpected OAuth state claim outcome: ${String(outcome)}`)
    },

    async settle (state, answer) {
      return await redis.wqlSettleOAuthState(key(state), answer) === 1
    },

    async get (state) {
      const fields = await redis.hgetall(key(state))
      return fields.status === undefined ? null : toStoredState(Object.entries(fields).flat())
    }
  }
}

function toStoredState (pairs: string[]): StoredState {
  const fields = new Map<string, string>()
  for (let i = 0; i + 1 < pairs.length; i += 2) fields.set(pairs[i] ?? '', pairs[i + 1] ?? '')
  const text = (name: string) => fields.get(name) ?? ''
  const record: OAuthStateRecord = {
    flow: text('flow') as OAuthFlow,
    scope: text('scope') as OAuthScope,
    purpose: text('purpose') as Purpose,
    returnTo: text('returnTo'),
    display: text('display') as Display,
    browserHash: text('browserHash'),
    createdAt: Number(fields.get('createdAt')),
    expiresAt: Number(fields.get('expiresAt'))
  }
  return { record, status: text('status') as StateStatus, codeHash: fields.get('codeHash') ?? null, answer: fields.get('answer') ?? null }
}
