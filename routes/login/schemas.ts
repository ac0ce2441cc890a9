import { Type, type Static } from '@sinclair/typebox'
import { SCENE_PATTERN } from '../../src/login/tokens.js'

export const Scene = Type.String({ pattern: SCENE_PATTERN })

export const CreatedLogin = Type.Object({
  scene: Scene,
  secret: Type.String(),
  ticket: Type.String(),
  qrUrl: Type.String(),
  qrImageUrl: Type.String(),
  expiresIn: Type.Integer(),
  expiresAt: Type.String({ format: 'date-time' })
})

export const Status = Type.Object({
  type: Type.Literal('status'),
  status: Type.Union([Type.Literal('pending'), Type.Literal('scanned'), Type.Literal('confirmed'), Type.Literal('expired')]),
  expiresIn: Type.Integer({ minimum: 0 }),
  code: Type.Optional(Type.String())
})

export const ErrorBody = Type.Object({
  error: Type.String(),
  message: Type.Optional(Type.String()),
  errcode: Type.Optional(Type.Integer())
})

export const StatusQuery = Type.Object({ scene: Type.String({ maxLength: 128 }) })
export const BearerHeaders = Type.Object({ authorization: Type.Optional(Type.String({ maxLength: 512 })) })

export const ExchangeBody = Type.Object({ code: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false })
export const Profile = Type.Object({
  nickname: Type.String(),
  headimgurl: Type.String(),
  sex: Type.Integer(),
  province: Type.String(),
  city: Type.String(),
  country: Type.String(),
  privilege: Type.Array(Type.String())
})
export const Identity = Type.Object({
  openid: Type.String(),
  unionid: Type.Union([Type.String(), Type.Null()]),
  /** null for OAuth logins (no QR). */
  scene: Type.Union([Type.String(), Type.Null()]),
  /** null for OAuth logins (WeChat does not say). */
  subscribed: Type.Union([Type.Boolean(), Type.Null()]),
  confirmedAt: Type.String({ format: 'date-time' }),
  flow: Type.Union([Type.Literal('scan'), Type.Literal('mp'), Type.Literal('web')]),
  profile: Type.Optional(Profile)
})

export const PageConfig = Type.Object({
  allowedOrigins: Type.Array(Type.String()),
  /** The website-QR popup (Open Platform) is available; open `webLoginUrl` + `&return_to=…`. */
  webLogin: Type.Boolean(),
  webLoginUrl: Type.Union([Type.String(), Type.Null()]),
  /** OAuth inside WeChat (Official Account) is available: `mpLoginUrl` + `&return_to=…`. */
  mpLogin: Type.Boolean(),
  mpLoginUrl: Type.Union([Type.String(), Type.Null()])
})

/** The socket's one inbound message. A scene not shaped like ours is refused before any I/O. */
export const SubscribeMessage = Type.Object({
  type: Type.Literal('subscribe'),
  scene: Scene,
  secret: Type.String({ maxLength: 128 })
})
export type SubscribeMessage = Static<typeof SubscribeMessage>

export function bearerToken (authorization: string | undefined): string | null {
  const match = /^Bearer ([^\s]+)$/i.exec(authorization ?? '')
  return match?.[1] ?? null
}
