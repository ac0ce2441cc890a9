import { Type } from '@sinclair/typebox'

// The shapes /api/login sends and accepts are the wire contract: src/wire/login.ts. Here only what
// the HTTP layer alone reads: the status query and the bearer header.

export const StatusQuery = Type.Object({ scene: Type.String({ maxLength: 128 }) })
export const BearerHeaders = Type.Object({ authorization: Type.Optional(Type.String({ maxLength: 512 })) })

export function bearerToken (authorization: string | undefined): string | null {
  const match = /^Bearer ([^\s]+)$/i.exec(authorization ?? '')
  return match?.[1] ?? null
}
