import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import pino from 'pino'
import type { Config } from './config.js'

/** Query parameters that are secrets or one-time credentials: logged as "[redacted]". */
// signature/nonce/msg_signature: in plaintext mode a signed webhook URL stays valid for the whole
// timestamp window, whatever body comes with it; openid: a user's identifier, for WeChat and us only.
// refresh_token: OAuth's, in the query of the (emulated) sns/oauth2/refresh_token. scene: a login's
// (the status poll's), named in log lines only by its hash (src/login/log-key.ts).
const SECRET_QUERY_PARAMS = new Set(['code', 'secret', 'state', 'echostr', 'access_token', 'refresh_token', 'ticket', 'signature', 'msg_signature', 'nonce', 'openid', 'scene'])

export function redactUrl (url: string): string {
  const queryStart = url.indexOf('?')
  if (queryStart === -1) return url
  const params = new URLSearchParams(url.slice(queryStart + 1))
  for (const key of new Set(params.keys())) {
    if (SECRET_QUERY_PARAMS.has(key)) params.set(key, '[redacted]')
  }
  return `${url.slice(0, queryStart)}?${params.toString()}`
}

/**
 * Paths pino blanks out in a logged object. `code` is not one: it is the error code of every
 * refusal. Login codes appear in no log call; in request URLs (`?code=`, an OAuth callback's)
 * redactUrl blanks them, and ioredis puts a failed command's arguments (a login code being
 * confirmed or redeemed, an access token being stored) on its error as `command.args`.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'err.command.args',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'appSecret',
  '*.secret',
  '*.access_token',
  '*.appSecret'
]

export function loggerOptions (config: Pick<Config, 'LOG_LEVEL'>, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  const pretty = stream === undefined && process.stdout.isTTY === true
  return {
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req (request) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip }
      }
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    // stdout written asynchronously (pino's documented fast path): lines logged while a write is in
    // flight go out together in the next one, instead of a blocking write(2) per line on the event
    // loop, a tenth of the webhook's CPU at thousands of pushes a second. pino flushes what is
    // pending when the process exits.
    ...(stream !== undefined ? { stream } : pretty ? {} : { stream: pino.destination({ dest: 1, sync: false }) })
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * 'outcome': the route writes its own line for what matters (the webhook: one per queued scan,
     * one per refusal), so Fastify's "incoming request" and a successful "request completed" go to
     * debug. At thousands of pushes a second, three lines a push were a sixth of the CPU.
     */
    requestLog?: 'outcome'
  }
}

/** Fastify's request lines, quieter on the routes that log their own outcome. */
export class RequestLog extends LogController {
  override incomingRequest (request: FastifyRequest, reply: FastifyReply): void {
    if (!ownOutcome(request)) super.incomingRequest(request, reply)
    else request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!ownOutcome(request) || (error !== null && error !== undefined) || reply.statusCode >= 500) {
      super.requestCompleted(error, request, reply)
    } else {
      request.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
    }
  }
}

function ownOutcome (request: FastifyRequest): boolean {
  return request.routeOptions.config.requestLog === 'outcome'
}
