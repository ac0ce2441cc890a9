import { Type } from '@sinclair/typebox'
import { RETURN_TO_MAX_LENGTH } from '../../src/oauth/return-to.js'
import { ProfileSchema } from '../../src/wire/login.js'

const Flow = Type.Union([Type.Literal('mp'), Type.Literal('web')])

export const AuthorizeQuery = Type.Object({
  flow: Flow,
  /** Default: the flow's first (snsapi_base for mp, snsapi_login for web). */
  scope: Type.Optional(Type.Union([Type.Literal('snsapi_base'), Type.Literal('snsapi_userinfo'), Type.Literal('snsapi_login')])),
  return_to: Type.String({ minLength: 1, maxLength: RETURN_TO_MAX_LENGTH }),
  display: Type.Optional(Type.Union([Type.Literal('page'), Type.Literal('popup')]))
})

/** WeChat adds nothing else; a refusal comes back with `state` only. Shapes are checked in the handler, as refusals. */
export const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ maxLength: 512 })),
  state: Type.Optional(Type.String({ maxLength: 512 }))
})

export const ProfileBody = Type.Object({
  openid: Type.String({ minLength: 1, maxLength: 128 }),
  /** Only this app's tokens; without it the Official Account's are tried, then the website app's. */
  flow: Type.Optional(Flow)
}, { additionalProperties: false })

export const FreshProfile = Type.Object({
  openid: Type.String(),
  unionid: Type.Union([Type.String(), Type.Null()]),
  flow: Flow,
  profile: ProfileSchema
})

/** OpenAPI responses of the visitor's routes: HTML pages and redirects, never JSON. */
export function htmlPage (description: string) {
  return { description, content: { 'text/html': { schema: Type.String() } } }
}

export function redirect (description: string) {
  return { description, type: 'null' } as const
}
