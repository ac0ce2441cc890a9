import createError from '@fastify/error'
import type { FastifyError } from 'fastify'
import { isBackendUnavailable } from '../src/errors.js'
import { WeChatApiError, WeChatTransportError, errcodeAdvice } from '../src/wechat/errors.js'

/**
 * Every error our routes answer with, one @fastify/error class each. Routes and their hooks throw
 * them; the root error handler (src/app.ts) logs each once and sends `{ "error": "<code>" }` with
 * its status: the codes and statuses the README documents.
 *
 * In log lines `code` is always our error code, the body's `error`; `errcode` is WeChat's number
 * (its API's, or its crypto samples' -400xx); other fields are facts about the refusal (`stage`,
 * `failure`, `reason`, `skewSeconds`…), never a secret.
 */

type LogLevel = 'info' | 'warn' | 'error'

interface Definition {
  /** `error` only for what the operator must fix; refusals of bad or hostile requests are `warn`. */
  level: LogLevel
  /** The body carries `message` only where it helps the caller: when to retry, what WeChat said. */
  publicMessage: boolean
}

const definitions = new Map<string, Definition>()

/**
 * @fastify/error upper-cases a code (`BAD_SIGNATURE`); bodies and log lines carry it lower-case
 * (`bad_signature`), as the README documents it. `Args` fill the message's `%s` placeholders.
 */
function define<Args extends unknown[] = []> (code: string, statusCode: number, message: string, definition: Partial<Definition> = {}) {
  const errorCode = code.toUpperCase()
  if (definitions.has(errorCode)) throw new Error(`error code ${code} defined twice`)
  definitions.set(errorCode, { level: 'warn', publicMessage: false, ...definition })
  return createError<string, number, Args>(errorCode, message, statusCode)
}

// The webhook. WeChat reads only the status; the code tells the operator which check refused.
export const BadSignature = define('bad_signature', 401, 'webhook signature mismatch')
export const StaleTimestamp = define('stale_timestamp', 401, 'webhook timestamp outside the accepted window (stale_timestamp)')
export const SignatureReused = define('signature_reused', 401, 'webhook signature reused with another body (signature_reused)')
export const BadMsgSignature = define<[message: 'encrypted webhook push without msg_signature' | 'webhook msg_signature mismatch']>(
  'bad_msg_signature', 401, '%s')
export const EncryptionRequired = define('encryption_required', 401,
  'plaintext webhook push refused: WECHAT_ENCODING_AES_KEY is set (WECHAT_ALLOW_PLAINTEXT=1 accepts them while switching modes)')
export const EncryptionNotConfigured = define('encryption_not_configured', 400,
  'encrypted webhook push (encrypt_type=aes) but WECHAT_ENCODING_AES_KEY is not set', { level: 'error' })
export const MissingEncrypt = define('missing_encrypt', 400, 'encrypted webhook push without an <Encrypt> element')
export const UnsupportedEncryptType = define('unsupported_encrypt_type', 400, 'webhook push with an unknown encrypt_type')
export const DecryptFailed = define<[stage: string]>('decrypt_failed', 400, 'webhook push could not be decrypted (%s)')
export const MalformedXml = define<[what: string]>('malformed_xml', 400, '%s is not valid XML')
export const ForbiddenMarkup = define('forbidden_markup', 400, 'DOCTYPE and ENTITY declarations are refused')
export const NotAWeChatMessage = define('not_a_wechat_message', 400, 'webhook body is not a WeChat message')
export const BodyTooLarge = define<[limit: number]>('body_too_large', 413, 'webhook body over %s bytes')
export const MissingEchostr = define('missing_echostr', 400, 'webhook URL check without echostr')

// The login API.
export const NotFound = define<[what: string]>('not_found', 404, '%s not found', { level: 'info' })
export const InvalidGrant = define('invalid_grant', 400, 'exchange with an unknown or used code', { level: 'info' })
export const Unauthorized = define('unauthorized', 401, 'request with a wrong or missing bearer key (API_KEY, METRICS_TOKEN)')
export const ForbiddenOrigin = define<[what: 'login socket' | 'login creation']>('forbidden_origin', 403, '%s from a foreign origin refused')
export const RateLimited = define<[retryInSeconds: number]>('rate_limited', 429, 'Too many requests, retry in %s s', { publicMessage: true })
export const QrBudgetExhausted = define<[retryInSeconds: number]>('qr_budget_exhausted', 503,
  'No more logins today (RATE_LIMIT_QR_DAILY): retry in %s s, after midnight Beijing time', { publicMessage: true })
export const TooManySockets = define<[limit: string]>('too_many_sockets', 429, 'login socket refused: %s')

// The users API.
export const ReauthorizeRequired = define('reauthorize_required', 409,
  'No usable WeChat authorization for this user: log them in again with snsapi_userinfo or snsapi_login', { level: 'info', publicMessage: true })

// What the routes' services fail with: WeChat, and the state store.
export const WeChatError = define<[api: string, errcode: number]>('wechat_error', 502,
  'WeChat %s returned errcode %s', { level: 'error', publicMessage: true })
export const WeChatUnreachable = define<[api: string, failure: string]>('wechat_unreachable', 502, 'WeChat %s: %s', { level: 'error', publicMessage: true })
export const Unavailable = define<[options: { cause: unknown }]>('unavailable', 503, 'state store unavailable', { level: 'error' })
export const InternalError = define<[options: { cause: unknown }]>('internal_error', 500, 'request failed', { level: 'error' })

/** What a refusal's log line carries beside its code: facts about the request, never a secret. */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>

/** One of the errors above, as the root error handler reads it. */
export interface RouteError extends FastifyError {
  statusCode: number
  logFields?: LogFields
  /** WeChat's own errcode, passed on to the caller (wechat_error only). */
  errcode?: number
}

interface ErrorReplyBody {
  error: string
  errcode?: number
  message?: string
}

/** Attaches the facts its log line should carry (`throw withLog(new StaleTimestamp(), { skewSeconds })`). */
export function withLog<E extends FastifyError> (error: E, logFields: LogFields): E & { logFields: LogFields } {
  return Object.assign(error, { logFields })
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** WeChat-facing routes: WeChat reads the status alone, so Fastify's own refusals carry their code and nothing more. */
    codeOnlyErrors?: boolean
  }
}

function definitionOf (error: FastifyError): Definition | undefined {
  return typeof error.code === 'string' ? definitions.get(error.code) : undefined
}

export function isRouteError (error: FastifyError): error is RouteError {
  return definitionOf(error) !== undefined && typeof error.statusCode === 'number'
}

/** The code as bodies and log lines carry it. */
export function errorCode (error: RouteError): string {
  return error.code.toLowerCase()
}

export function logLevel (error: RouteError): LogLevel {
  return definitionOf(error)?.level ?? 'error'
}

export function errorBody (error: RouteError): ErrorReplyBody {
  return {
    error: errorCode(error),
    ...(error.errcode === undefined ? {} : { errcode: error.errcode }),
    ...(definitionOf(error)?.publicMessage === true ? { message: error.message } : {})
  }
}

/**
 * The services' failures as route errors: WeChat's become 502s carrying its errcode, the state
 * store's a 503. Anything else is not ours to name: null. What the operator should change (and
 * WeChat's errmsg, which for 40164 names our server's IP) goes to the log only: the body reaches
 * anonymous browsers.
 */
export function fromServiceError (error: unknown): RouteError | null {
  if (error instanceof WeChatApiError) {
    const failed = new WeChatError(error.api, error.errcode)
    const logFields = { api: error.api, errcode: error.errcode, errmsg: error.errmsg, rid: error.rid, advice: errcodeAdvice(error.errcode) }
    return Object.assign(failed, { errcode: error.errcode, logFields })
  }
  if (error instanceof WeChatTransportError) {
    return withLog(new WeChatUnreachable(error.api, error.failure), { api: error.api, failure: error.failure })
  }
  if (isBackendUnavailable(error)) return new Unavailable({ cause: error })
  return null
}

/**
 * Fastify's own refusals (a body that is not JSON, an unsupported content type, a failed schema):
 * Fastify's code, or bad_request, with its message; a failed schema is bad_request with what failed.
 */
export function fastifyRefusalBody (error: FastifyError, { codeOnly }: { codeOnly: boolean }): ErrorReplyBody {
  // A third-party parser's error may have a status and no code (the XML parser's validator).
  const code = (error.code as string | undefined) ?? 'bad_request'
  if (codeOnly) return { error: code }
  return { error: error.validation === undefined ? code : 'bad_request', message: error.message }
}
