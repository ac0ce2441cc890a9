/**
 * The contract with browsers and backends: every shape /api/login sends or accepts, and the
 * socket's close codes, as README.md ("The API") documents them. Routes validate against these
 * schemas, the domain builds these types, and the page (static/js/protocol.js) mirrors the names
 * it needs; test/static/protocol.test.ts keeps that copy equal. A change here is an API change.
 */
import { Type, type Static } from '@sinclair/typebox'
import { SCENE_PATTERN } from '../login/tokens.js'

/**
 * Every status a login can show, in the order a login moves through them. `denied`: the scanner
 * refused the login on the phone's confirmation page (LOGIN_REQUIRE_CONFIRM); final, like the two
 * around it.
 */
export const LoginStatusSchema = Type.Union([
  Type.Literal('pending'), Type.Literal('scanned'), Type.Literal('confirmed'), Type.Literal('denied'), Type.Literal('expired')
])
export type LoginStatus = Static<typeof LoginStatusSchema>
export const LOGIN_STATUSES: readonly LoginStatus[] = Object.freeze(LoginStatusSchema.anyOf.map((literal) => literal.const))

/**
 * How the login socket closes. 1009 is sent by the WebSocket library itself (a message over
 * WEBSOCKET_MAX_PAYLOAD); the rest by the socket route.
 */
export const CloseCode = {
  /** The login reached a final status (confirmed, denied or expired); the page closes with it too. */
  final: 1000,
  /** The instance is shutting down (a deploy): the page reconnects, reaching another instance. */
  goingAway: 1001,
  messageTooBig: 1009,
  internalError: 1011,
  /** The first message was not a subscribe. */
  badRequest: 4400,
  /** Unknown scene or wrong secret: the two are not told apart. */
  notFound: 4404,
  /** No subscribe in time. */
  subscribeTimeout: 4408,
  /** This login already has its share of sockets (SOCKET_LIMIT_PER_LOGIN), or the instance or client is at its cap. */
  tooManySockets: 4429
} as const
export type SocketCloseCode = typeof CloseCode[keyof typeof CloseCode]

export const SceneSchema = Type.String({ pattern: SCENE_PATTERN })

/** POST /api/login/qr, 201. */
export const CreatedLoginSchema = Type.Object({
  scene: SceneSchema,
  /** The browser's proof that it created the login: never in a URL. */
  secret: Type.String(),
  ticket: Type.String(),
  /** What the QR code encodes. */
  qrUrl: Type.String(),
  /** WeChat's showqrcode image of the same QR. */
  qrImageUrl: Type.String(),
  expiresIn: Type.Integer(),
  expiresAt: Type.String({ format: 'date-time' })
})
export type CreatedLogin = Static<typeof CreatedLoginSchema>

/** What the page sees, pushed over the socket and from GET /api/login/status alike. */
export const StatusMessageSchema = Type.Object({
  type: Type.Literal('status'),
  status: LoginStatusSchema,
  /** Seconds left: of the QR code, or with `confirmed` of the login code (0 once gone). */
  expiresIn: Type.Integer({ minimum: 0 }),
  /** Only with `confirmed`, and only while the code is still valid. */
  code: Type.Optional(Type.String())
})
export type StatusMessage = Static<typeof StatusMessageSchema>

/** The socket's one inbound message. A scene not shaped like ours is refused before any I/O. */
export const SubscribeMessageSchema = Type.Object({
  type: Type.Literal('subscribe'),
  scene: SceneSchema,
  secret: Type.String({ maxLength: 128 })
})
export type SubscribeMessage = Static<typeof SubscribeMessageSchema>

/** What the socket sends instead of a status, just before it closes. */
export const SocketErrorSchema = Type.Object({
  type: Type.Literal('error'),
  error: Type.String()
})
export type SocketError = Static<typeof SocketErrorSchema>

/** Every HTTP error of /api/login. */
export const ErrorBodySchema = Type.Object({
  error: Type.String(),
  message: Type.Optional(Type.String()),
  /** WeChat's errcode, when WeChat refused. */
  errcode: Type.Optional(Type.Integer())
}, { description: 'A refusal or failure: its code in `error`' })
export type ErrorBody = Static<typeof ErrorBodySchema>

/** GET /api/login/config: the origins the page may post a code to (its opener's or parent's), and the OAuth ways in. */
export const PageConfigSchema = Type.Object({
  allowedOrigins: Type.Array(Type.String()),
  /** The page shows the login code on screen: only in demo and emulator mode (WECHAT_EMULATOR=1). */
  showCode: Type.Boolean(),
  /** The website-QR popup (Open Platform) is available; open `webLoginUrl` + `&return_to=…`. */
  webLogin: Type.Boolean(),
  webLoginUrl: Type.Union([Type.String(), Type.Null()]),
  /** OAuth inside WeChat (Official Account) is available: `mpLoginUrl` + `&return_to=…`. */
  mpLogin: Type.Boolean(),
  mpLoginUrl: Type.Union([Type.String(), Type.Null()])
})
export type PageConfig = Static<typeof PageConfigSchema>

/** POST /api/login/exchange, from the application's backend. */
export const ExchangeBodySchema = Type.Object({ code: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false })
export type ExchangeBody = Static<typeof ExchangeBodySchema>

/** How the visitor logged in: follow-scan, OAuth inside WeChat (Official Account), website QR (Open Platform). */
export const LoginFlowSchema = Type.Union([Type.Literal('scan'), Type.Literal('mp'), Type.Literal('web')])
export type LoginFlow = Static<typeof LoginFlowSchema>

/** What `sns/userinfo` tells (snsapi_userinfo, snsapi_login); sex and region are empty since 2021-10-20. */
export const ProfileSchema = Type.Object({
  nickname: Type.String(),
  headimgurl: Type.String(),
  sex: Type.Integer(),
  province: Type.String(),
  city: Type.String(),
  country: Type.String(),
  privilege: Type.Array(Type.String())
})
export type Profile = Static<typeof ProfileSchema>

/**
 * The visitor, as /api/login/exchange returns them. The stored identity (src/login/types.ts) is
 * this with `confirmedAt` in epoch milliseconds: a field added here is stored and returned.
 */
export const IdentitySchema = Type.Object({
  openid: Type.String(),
  unionid: Type.Union([Type.String(), Type.Null()]),
  /** The QR's scene; null for OAuth logins, which have no QR. */
  scene: Type.Union([Type.String(), Type.Null()]),
  /** Whether the visitor follows the Official Account; null for OAuth logins, which do not tell. */
  subscribed: Type.Union([Type.Boolean(), Type.Null()]),
  confirmedAt: Type.String({ format: 'date-time' }),
  flow: LoginFlowSchema,
  /** Only when the OAuth scope gave one (snsapi_userinfo, snsapi_login). */
  profile: Type.Optional(ProfileSchema)
})
export type Identity = Static<typeof IdentitySchema>
