import { setTimeout as sleep } from 'node:timers/promises'
import { createApiHandlers } from './api.js'
import { EmulatorError, wechatError } from './errors.js'
import { createFaults, type EmulatedApi } from './faults.js'
import { emulatorSettings } from './options.js'
import { buildPush, type PushFields } from './push.js'
import { createPusher } from './pusher.js'
import { createQrCodeStore } from './qrcodes.js'
import { createTokenIssuer } from './tokens.js'
import type { Emulator, EmulatorCounters, EmulatorOptions } from './types.js'
import { createUsers, toTestUser, type UserState } from './users.js'

/** One emulated Official Account: its tokens, QR codes, users and faults, and the pushes its phone sends. */
export function createEmulator (options: EmulatorOptions): Emulator {
  const settings = emulatorSettings(options)
  const { appId, appSecret, originalId, now } = settings
  const counters: EmulatorCounters = { tokenFetches: 0, qrCreates: 0, userInfoCalls: 0, tokensIssued: 0, pushes: 0 }
  const faults = createFaults(now)
  const tokens = createTokenIssuer({
    now,
    ttlSeconds: settings.tokenTtlSeconds,
    forceRefresh: settings.forceRefreshLimits,
    onIssue: () => { counters.tokensIssued++ }
  })
  const qrCodes = createQrCodeStore({ now, publicBase: settings.publicBase })
  let users = createUsers(appId, settings.users, now)
  if (new Set(users.map((user) => user.openid)).size !== users.length) throw new TypeError('test users must have distinct openids')
  const pusher = createPusher(settings, () => { counters.pushes++ })

  function findUser (openid: string): UserState | undefined {
    return users.find((user) => user.openid === openid)
  }

  const answer = createApiHandlers({ appId, appSecret, tokens, qrCodes, findUser })

  function count (api: EmulatedApi): void {
    if (api === 'token' || api === 'stable_token') counters.tokenFetches++
    else if (api === 'qrcode/create') counters.qrCreates++
    else counters.userInfoCalls++
  }

  return {
    appId,
    mode: settings.mode,
    modes: settings.modes,
    originalId,
    get users () {
      return users.map(toTestUser)
    },
    get counters () {
      return { ...counters }
    },
    faults,
    now,

    async handle (api, request, { signal } = {}) {
      count(api)
      const applied = faults.take(api)
      if (applied.latencyMs > 0) {
        try {
          await sleep(applied.latencyMs, undefined, { signal })
        } catch {
          // The server is closing: a slow WeChat that never answers.
          return { kind: 'down', mode: 'reset' }
        }
      }
      if (applied.down !== null) return { kind: 'down', mode: applied.down }
      if (applied.errcode !== null) return { kind: 'json', body: wechatError(applied.errcode) }
      return { kind: 'json', body: answer[api](request) }
    },

    findQrCode (ticket) {
      return qrCodes.find(ticket)
    },

    async scan (ticket, openid, options) {
      const user = findUser(openid)
      if (user === undefined) throw new EmulatorError('unknown_user', `no test user has the openid ${openid}`)
      const found = qrCodes.find(ticket)
      if (found === null) throw new EmulatorError('unknown_ticket', 'this QR code was not created by this emulator (or was forgotten long ago)')
      if (found.expired) throw new EmulatorError('expired_ticket', 'this QR code has expired')
      const { code } = found
      // Before any state changes: a refused mode is not a scan.
      const { url, signing } = pusher.prepare(user.openid, options)
      const createTime = pusher.createTime(user.openid)
      const firstFollow = !user.following
      if (firstFollow) {
        // The user follows on the phone before WeChat pushes, whatever the webhook answers.
        Object.assign(user, {
          following: true,
          subscribeTime: createTime,
          subscribeScene: 'ADD_SCENE_QR_CODE',
          qrScene: code.sceneId,
          qrSceneStr: code.sceneStr
        })
      }
      const fields: PushFields = {
        ToUserName: originalId,
        FromUserName: user.openid,
        CreateTime: createTime,
        MsgType: 'event',
        Event: firstFollow ? 'subscribe' : 'SCAN',
        EventKey: firstFollow ? `qrscene_${code.scene}` : code.scene,
        Ticket: code.ticket
      }
      return pusher.send(buildPush(url, signing, fields))
    },

    async pushEvent (input, options) {
      const fields: Record<string, string | number | bigint> = { ...input }
      const openid = typeof fields.FromUserName === 'string' ? fields.FromUserName : undefined
      const { url, signing } = pusher.prepare(openid, options)
      fields.CreateTime ??= pusher.createTime(openid)
      return pusher.send(buildPush(url, signing, fields))
    },

    async replay (push) {
      return pusher.send('push' in push ? push.push : push)
    },

    invalidateTokens () {
      tokens.invalidateAll()
    },

    expireTokens () {
      tokens.expireAll()
    },

    setFollowing (openid, following) {
      const user = findUser(openid)
      if (user === undefined) throw new EmulatorError('unknown_user', `no test user has the openid ${openid}`)
      if (following && !user.following) {
        Object.assign(user, { subscribeTime: Math.floor(now() / 1000), subscribeScene: 'ADD_SCENE_SEARCH', qrScene: 0, qrSceneStr: '' })
      }
      user.following = following
      return toTestUser(user)
    },

    reset () {
      tokens.reset()
      qrCodes.reset()
      faults.clear()
      users = createUsers(appId, settings.users, now)
      for (const key of Object.keys(counters) as Array<keyof EmulatorCounters>) counters[key] = 0
    },

    close () {
      return pusher.close()
    }
  }
}
