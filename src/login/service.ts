import type { Log } from '../log.js'
import type { WeChatClient } from '../wechat/client.js'
import type { LoginStore } from './store.js'
import type { CreatedLogin, StatusMessage } from '../wire/login.js'
import { statusMessage } from './status.js'
import { newBrowserSecret, newScene, secretMatches, sha256 } from './tokens.js'
import { REQUESTER_USER_AGENT_MAX, type Identity, type LoginRecord, type Requester } from './types.js'
import { loginLogKey } from './log-key.js'

export interface LoginServiceOptions {
  store: LoginStore
  wechat: Pick<WeChatClient, 'createQrCode'>
  loginTtlSeconds: number
  codeTtlSeconds: number
  /** Where browsers fetch the QR image: WECHAT_MP_BASE, or the emulator. */
  mpBase: () => string
  log?: Log
  now?: () => number
}

/** How long a record stays after its QR expired: late readers see "expired", a code can outlive the QR. */
function retainAfterExpiryMs (codeTtlSeconds: number): number {
  return (codeTtlSeconds + 60) * 1000
}

export function createLoginService ({ store, wechat, loginTtlSeconds, codeTtlSeconds, mpBase, log, now = Date.now }: LoginServiceOptions) {
  /**
   * The login, if `secret` is its browser's. `lastSeen`: the record this caller read before (a
   * socket watching the login). When the store no longer has it but it was still open (Redis
   * restarted without its data), it is put back as `pending`: the visitor's QR keeps working, and a
   * scan WeChat pushed meanwhile (spooled) completes it. A scan whose job Redis lost with it needs
   * the visitor to scan again, which `pending` says; "scanned" would wait for nothing.
   */
  async function authorized (scene: string, secret: string, lastSeen: LoginRecord | null = null): Promise<LoginRecord | null> {
    let record = await store.get(scene)
    if (record === null && lastSeen !== null && lastSeen.scene === scene && lastSeen.status !== 'confirmed' && lastSeen.expiresAt > now()) {
      const { scene: seenScene, secretHash, createdAt, expiresAt, requester } = lastSeen
      const pending: LoginRecord = { scene: seenScene, secretHash, status: 'pending', createdAt, expiresAt, ...(requester === undefined ? {} : { requester }) }
      if (await store.restore(pending, retainAfterExpiryMs(codeTtlSeconds))) {
        log?.warn({ login: loginLogKey(scene) }, 'login lost by the store (Redis restarted without its data): put back as pending')
      }
      record = await store.get(scene)
    }
    if (record === null || !secretMatches(record.secretHash, secret)) return null
    return record
  }

  return {
    /**
     * Stores the login first, then asks WeChat for its QR: a store that cannot write (Redis down)
     * fails the request before it spends any of WeChat's daily qrcode/create quota. If WeChat
     * fails, the login nobody was told of is discarded. The QR lives exactly LOGIN_TTL_SECONDS:
     * WeChat honours expire_seconds up to 30 days, LOGIN_TTL_SECONDS' own maximum.
     */
    async create (requester: Requester): Promise<CreatedLogin> {
      const scene = newScene()
      const secret = newBrowserSecret()
      const createdAt = now()
      const expiresAt = createdAt + loginTtlSeconds * 1000
      const userAgent = requester.userAgent?.slice(0, REQUESTER_USER_AGENT_MAX)
      await store.create({
        scene,
        secretHash: sha256(secret),
        status: 'pending',
        createdAt,
        expiresAt,
        requester: { ...requester, ...(userAgent === undefined ? {} : { userAgent }) }
      }, retainAfterExpiryMs(codeTtlSeconds))
      let qr
      try {
        qr = await wechat.createQrCode(scene, loginTtlSeconds)
      } catch (error) {
        // WeChat's failure is the one to report; a login left behind expires with its TTL anyway.
        await store.discard(scene).catch(() => {})
        throw error
      }
      const imageUrl = new URL('cgi-bin/showqrcode', mpBase().replace(/\/?$/, '/'))
      imageUrl.searchParams.set('ticket', qr.ticket)
      return {
        scene,
        secret,
        ticket: qr.ticket,
        qrUrl: qr.url,
        qrImageUrl: imageUrl.toString(),
        expiresIn: Math.round((expiresAt - createdAt) / 1000),
        expiresAt: new Date(expiresAt).toISOString()
      }
    },

    /** null for an unknown scene and a wrong secret alike: the caller cannot tell which. */
    async status (scene: string, secret: string): Promise<StatusMessage | null> {
      const record = await authorized(scene, secret)
      return record === null ? null : statusMessage(record, now())
    },

    authorized,

    redeem (code: string): Promise<Identity | null> {
      return store.redeemCode(code)
    }
  }
}
