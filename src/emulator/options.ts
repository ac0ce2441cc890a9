import { createHash } from 'node:crypto'
import { createMessageCrypto } from '../wechat/crypto.js'
import { isPushMode, type PushMode } from './push.js'
import type { EmulatorOptions, EmulatorSettings } from './types.js'
import { DEFAULT_USERS } from './users.js'

const DEFAULT_TOKEN_TTL_SECONDS = 7200
const DEFAULT_PUSH_TIMEOUT_MS = 5000
/** WeChat's stable_token force mode: at least 30 s apart, at most 20 a day. */
const DEFAULT_FORCE_REFRESH = { minIntervalMs: 30_000, perDay: 20 }

/** Fails at creation, not on the first call: a demo with a broken emulator should not start. */
function checkOptions (options: EmulatorOptions): void {
  for (const key of ['appId', 'appSecret', 'token'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') throw new TypeError(`emulator option ${key} must be a non-empty string`)
  }
  if (typeof options.webhookUrl !== 'function' || typeof options.publicBase !== 'function') {
    throw new TypeError('emulator options webhookUrl and publicBase must be functions')
  }
  const { tokenTtlSeconds, pushTimeoutMs } = options
  if (tokenTtlSeconds !== undefined && (!Number.isInteger(tokenTtlSeconds) || tokenTtlSeconds < 1)) {
    throw new TypeError('emulator option tokenTtlSeconds must be a positive integer')
  }
  if (pushTimeoutMs !== undefined && (!Number.isInteger(pushTimeoutMs) || pushTimeoutMs < 1)) {
    throw new TypeError('emulator option pushTimeoutMs must be a positive integer')
  }
  if ((options.users ?? DEFAULT_USERS).length === 0) throw new TypeError('the emulator needs at least one test user')
  const { mode = 'plaintext', encodingAesKey } = options
  if (!isPushMode(mode)) throw new TypeError('emulator option mode must be plaintext, compatible or safe')
  if (mode !== 'plaintext' && encodingAesKey === undefined) throw new TypeError(`emulator mode ${mode} needs the encodingAesKey option`)
}

/** The options checked, with WeChat's defaults filled in. */
export function emulatorSettings (options: EmulatorOptions): EmulatorSettings {
  checkOptions(options)
  const { appId, appSecret, token, webhookUrl, publicBase, now = Date.now } = options
  // Throws on a malformed key (without echoing it): a demo with a broken emulator should not start.
  const crypto = options.encodingAesKey === undefined
    ? null
    : createMessageCrypto({ token, encodingAesKey: options.encodingAesKey, appId })
  const modes: readonly PushMode[] = crypto === null ? ['plaintext'] : ['plaintext', 'compatible', 'safe']
  return {
    appId,
    appSecret,
    token,
    webhookUrl,
    publicBase,
    mode: options.mode ?? 'plaintext',
    modes,
    crypto,
    originalId: options.originalId ?? `gh_${createHash('sha256').update(`gh:${appId}`).digest('hex').slice(0, 12)}`,
    users: options.users ?? DEFAULT_USERS,
    tokenTtlSeconds: options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
    forceRefreshLimits: { ...DEFAULT_FORCE_REFRESH, ...options.forceRefreshLimits },
    pushTimeoutMs: options.pushTimeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS,
    now
  }
}
