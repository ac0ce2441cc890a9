// @ts-check
/**
 * Follows one login: a WebSocket, reconnected with capped exponential backoff and jitter (the
 * server answers every subscribe with the current state, so nothing is lost across a drop); after
 * SOCKET_FAILURES_BEFORE_POLLING sockets in a row die before saying anything, or if WebSocket
 * cannot even be constructed, polling every POLL_INTERVAL_MS. The owner stops it on a final status.
 */
import { ApiError, fetchStatus } from './api.js'
import { CloseCode, LOGIN_API, readStatus, subscribeMessage } from './protocol.js'

/**
 * @typedef {import('./protocol.js').CreatedLogin} CreatedLogin
 * @typedef {import('./protocol.js').StatusMessage} StatusMessage
 * @typedef {{ onStatus (message: StatusMessage): void, onGone (): void }} WatchHandlers
 */

/** Sockets that close before delivering any status, in a row, before we give up on them. */
export const SOCKET_FAILURES_BEFORE_POLLING = 3
const POLL_INTERVAL_MS = 2000
const BACKOFF_BASE_MS = 500
const BACKOFF_MAX_MS = 10_000

/**
 * `onGone`: the server no longer knows the login (expired and forgotten, or never ours).
 * @param {CreatedLogin} login
 * @param {WatchHandlers} handlers
 * @returns {{ stop (): void }}
 */
export function watch (login, { onStatus, onGone }) {
  let stopped = false
  let polling = false
  let failures = 0
  let attempt = 0
  /** @type {WebSocket | null} */
  let socket = null
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null

  const socketUrl = new URL(`${LOGIN_API}/ws`, location.href)
  socketUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'

  function connect () {
    timer = null
    if (stopped) return
    /** @type {WebSocket} */
    let ws
    try {
      ws = new WebSocket(socketUrl)
    } catch {
      startPolling()
      return
    }
    socket = ws
    let delivered = false
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify(subscribeMessage(login)))
    })
    ws.addEventListener('message', (event) => {
      const message = readStatus(event.data)
      if (stopped || message === null) return
      delivered = true
      failures = 0
      attempt = 0
      onStatus(message)
    })
    ws.addEventListener('close', (event) => {
      if (socket === ws) socket = null
      if (stopped) return
      if (event.code === CloseCode.notFound) {
        stop()
        onGone()
        return
      }
      if (!delivered) failures += 1
      if (failures >= SOCKET_FAILURES_BEFORE_POLLING) {
        startPolling()
        return
      }
      timer = setTimeout(connect, backoff(attempt))
      attempt += 1
    })
  }

  function startPolling () {
    if (stopped || polling) return
    polling = true
    poll()
  }

  async function poll () {
    timer = null
    if (stopped) return
    let delay = POLL_INTERVAL_MS
    try {
      const message = await fetchStatus(login)
      if (stopped) return
      if (message === null) {
        stop()
        onGone()
        return
      }
      onStatus(message)
    } catch (error) {
      // Transient: keep polling; the countdown ends this anyway when the QR expires.
      if (error instanceof ApiError && error.retryAfterSeconds !== null) delay = Math.max(delay, error.retryAfterSeconds * 1000)
    }
    if (!stopped) timer = setTimeout(poll, delay)
  }

  /** Back online: no reason to sit out the rest of a backoff. */
  function onOnline () {
    if (!stopped && !polling && timer !== null) {
      clearTimeout(timer)
      connect()
    }
  }

  function stop () {
    stopped = true
    if (timer !== null) clearTimeout(timer)
    timer = null
    window.removeEventListener('online', onOnline)
    if (socket !== null && socket.readyState <= WebSocket.OPEN) socket.close(CloseCode.final)
    socket = null
  }

  window.addEventListener('online', onOnline)
  connect()
  return { stop }
}

/** Full jitter over the upper half: spreads a crowd of reconnecting pages. @param {number} attempt */
function backoff (attempt) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt)
  return ceiling / 2 + Math.random() * (ceiling / 2)
}
