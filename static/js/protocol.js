// @ts-check
/**
 * The page's side of the contract in src/wire/login.ts: the API's path, the status names, the
 * socket's close codes and the checks on what the server sends. The page is not compiled, so these
 * are copies; test/static/protocol.test.ts fails when they drift from the wire module.
 */

/**
 * @typedef {import('../../src/wire/login.js').CreatedLogin} CreatedLogin
 * @typedef {import('../../src/wire/login.js').StatusMessage} StatusMessage
 * @typedef {import('../../src/wire/login.js').SubscribeMessage} SubscribeMessage
 * @typedef {import('../../src/wire/login.js').LoginStatus} LoginStatus
 * @typedef {import('../../src/wire/login.js').ErrorBody} ErrorBody
 */

export const LOGIN_API = '/api/login'

/** The statuses by name, so the page never spells one out. @type {Readonly<{ [S in LoginStatus]: S }>} */
export const Status = Object.freeze({
  pending: 'pending',
  scanned: 'scanned',
  confirmed: 'confirmed',
  denied: 'denied',
  expired: 'expired'
})

/** @type {readonly LoginStatus[]} */
export const LOGIN_STATUSES = Object.freeze(Object.values(Status))

export const CloseCode = Object.freeze({
  final: 1000,
  goingAway: 1001,
  messageTooBig: 1009,
  internalError: 1011,
  badRequest: 4400,
  notFound: 4404,
  subscribeTimeout: 4408,
  tooManySockets: 4429
})

/** The socket's first and only message: the secret travels in it, never in the socket's URL. @param {CreatedLogin} login @returns {SubscribeMessage} */
export function subscribeMessage (login) {
  return { type: 'subscribe', scene: login.scene, secret: login.secret }
}

/** @param {unknown} value @returns {value is StatusMessage} */
export function isStatus (value) {
  if (value === null || typeof value !== 'object') return false
  const message = /** @type {Record<string, unknown>} */ (value)
  return message.type === 'status' &&
    LOGIN_STATUSES.includes(/** @type {LoginStatus} */ (message.status)) &&
    typeof message.expiresIn === 'number' &&
    (message.code === undefined || typeof message.code === 'string')
}

/** A socket frame's status message; null for anything else (an error, a binary frame, garbage). @param {unknown} data */
export function readStatus (data) {
  if (typeof data !== 'string') return null
  let message
  try {
    message = JSON.parse(data)
  } catch {
    return null
  }
  return isStatus(message) ? message : null
}
