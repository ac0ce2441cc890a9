import { randomBytes } from 'node:crypto'
import { wechatError, type WeChatErrorBody } from './errors.js'

export type QrActionName = 'QR_SCENE' | 'QR_STR_SCENE' | 'QR_LIMIT_SCENE' | 'QR_LIMIT_STR_SCENE'

export interface QrCodeRequest {
  actionName: QrActionName
  /** The scene as events carry it: scene_str, or the decimal scene_id. */
  scene: string
  sceneId: number
  sceneStr: string
  /** null for permanent codes. */
  expireSeconds: number | null
}

export interface QrCodeRecord extends QrCodeRequest {
  ticket: string
  /** What the QR encodes: the emulator's phone page for this ticket. */
  url: string
  createdAt: number
  /** Epoch ms, or null for permanent codes. */
  expiresAt: number | null
}

const DEFAULT_EXPIRE_SECONDS = 60
const MAX_EXPIRE_SECONDS = 2_592_000
const MAX_SCENE_STR_BYTES = 64
const MAX_TEMPORARY_SCENE_ID = 4_294_967_295
const MAX_PERMANENT_SCENE_ID = 100_000
/** Expired codes are forgotten after this long (then "unknown" instead of "expired"). */
const FORGET_AFTER_MS = 60 * 60 * 1000

const ACTION_NAMES: readonly QrActionName[] = ['QR_SCENE', 'QR_STR_SCENE', 'QR_LIMIT_SCENE', 'QR_LIMIT_STR_SCENE']

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Validates a qrcode/create body the way WeChat does: any malformed action is 40053. */
export function parseQrCodeRequest (body: unknown): QrCodeRequest | WeChatErrorBody {
  if (!isRecord(body)) return wechatError(47001)
  const actionName = body.action_name
  if (typeof actionName !== 'string' || !(ACTION_NAMES as readonly string[]).includes(actionName)) return wechatError(40053)
  const name = actionName as QrActionName
  const permanent = name.startsWith('QR_LIMIT_')
  const byString = name.endsWith('STR_SCENE')

  const info = body.action_info
  const scene = isRecord(info) ? info.scene : undefined
  if (!isRecord(scene)) return wechatError(40053)

  let sceneId = 0
  let sceneStr = ''
  if (byString) {
    const value = scene.scene_str
    // Length 1-64; bytes or characters is unspecified, bytes is the stricter reading.
    if (typeof value !== 'string' || value === '' || Buffer.byteLength(value, 'utf8') > MAX_SCENE_STR_BYTES) return wechatError(40053)
    sceneStr = value
  } else {
    const value = scene.scene_id
    const max = permanent ? MAX_PERMANENT_SCENE_ID : MAX_TEMPORARY_SCENE_ID
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) return wechatError(40053)
    sceneId = value
  }

  let expireSeconds: number | null = null
  if (!permanent) {
    const value = body.expire_seconds
    if (value === undefined || value === null) {
      expireSeconds = DEFAULT_EXPIRE_SECONDS
    } else if (typeof value === 'number' && Number.isInteger(value) && value >= 1) {
      expireSeconds = Math.min(value, MAX_EXPIRE_SECONDS)
    } else {
      return wechatError(40053)
    }
  }

  return { actionName: name, scene: byString ? sceneStr : String(sceneId), sceneId, sceneStr, expireSeconds }
}

/**
 * WeChat's tickets are base64 of a binary blob (`gQ…==`), so they carry `+`, `/` and `=` and must be
 * URL-encoded. Ours always contain all three, so a client that forgets to encode fails every time.
 */
function newTicket (): string {
  const raw = Buffer.concat([
    Buffer.from([0x81, randomBytes(1)[0]! & 0x0f]),
    randomBytes(40),
    Buffer.from([0xfb, 0xef, 0xbf]), // "+++/" at an aligned offset
    randomBytes(1)
  ])
  return raw.toString('base64') // 46 bytes: ends in "=="
}

export function createQrCodeStore ({ now, publicBase }: { now: () => number, publicBase: () => string }) {
  const codes = new Map<string, QrCodeRecord>()
  // Swept at most once a second: a sweep on every creation made each one walk every code, and a
  // benchmark's tens of thousands of logins slowed the emulator for everyone measured against it.
  let sweptAt = -Infinity

  return {
    create (request: QrCodeRequest): QrCodeRecord {
      const at = now()
      if (at - sweptAt >= 1000) {
        sweptAt = at
        for (const [ticket, code] of codes) {
          if (code.expiresAt !== null && code.expiresAt + FORGET_AFTER_MS < at) codes.delete(ticket)
        }
      }
      const ticket = newTicket()
      const record: QrCodeRecord = {
        ...request,
        ticket,
        url: `${publicBase().replace(/\/+$/, '')}/scan?ticket=${encodeURIComponent(ticket)}`,
        createdAt: at,
        expiresAt: request.expireSeconds === null ? null : at + request.expireSeconds * 1000
      }
      codes.set(ticket, record)
      return record
    },

    find (ticket: string): { code: QrCodeRecord, expired: boolean } | null {
      const code = codes.get(ticket)
      if (code === undefined) return null
      return { code, expired: code.expiresAt !== null && now() >= code.expiresAt }
    },

    reset (): void {
      codes.clear()
    }
  }
}

export type QrCodeStore = ReturnType<typeof createQrCodeStore>
