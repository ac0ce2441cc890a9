// @ts-check
/**
 * Follows one login: a WebSocket, reconnected with capped exponential backoff and jitter (the
 * server answers every subscribe with the current state, so nothing is lost across a drop); after
 * SOCKET_FAILURES_BEFORE_POLLING sockets in a row fail before saying anything, or if WebSocket
 * cannot even be constructed, polling every POLL_INTERVAL_MS. The owner stops it on a final status.
 *
 * Every wait has a deadline, because a socket can fail without a close event for a long time: a
 * handshake a proxy never answers, a socket that opens and says nothing, a connection a NAT or a
 * sleeping laptop dropped silently. A socket past its deadline is dropped and another opened; a
 * wake (wake.js: the clock jumped, the network came back) drops it at once.
 */
import { ApiError, fetchStatus } from './api.js'
import { CloseCode, LOGIN_API, readStatus, subscribeMessage } from './protocol.js'
import { onWake } from './wake.js'

/**
 * @typedef {import('./protocol.js').CreatedLogin} CreatedLogin
 * @typedef {import('./protocol.js').StatusMessage} StatusMessage
 * @typedef {{ onStatus (message: StatusMessage): void, onGone (): void }} WatchHandlers
 */

/** Sockets that fail before delivering any status, in a row, before we give up on them. */
export const SOCKET_FAILURES_BEFORE_POLLING = 3
/** A handshake not done by then will not be: a proxy or a captive portal holds it. */
export const CONNECT_TIMEOUT_MS = 5000
/** The server answers a subscribe at once: a socket that has said nothing by then is broken. */
export const FIRST_STATUS_TIMEOUT_MS = 5000
/**
 * A socket quiet for this long is replaced: the server pushes only changes, and a connection can
 * die without a close reaching us. The new socket's subscribe brings the current state.
 */
export const QUIET_TIMEOUT_MS = 60_000
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
  /** The next connect or poll. @type {ReturnType<typeof setTimeout> | null} */
  let timer = null
  /** The current socket's deadline. @type {ReturnType<typeof setTimeout> | null} */
  let deadline = null

  const socketUrl = new URL(`${LOGIN_API}/ws`, location.href)
  socketUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'

  function connect () {
    clearTimer()
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
    armDeadline(CONNECT_TIMEOUT_MS, () => giveUp(ws, true))
    ws.addEventListener('open', () => {
      if (socket !== ws) return
      ws.send(JSON.stringify(subscribeMessage(login)))
      armDeadline(FIRST_STATUS_TIMEOUT_MS, () => giveUp(ws, true))
    })
    ws.addEventListener('message', (event) => {
      const message = readStatus(event.data)
      if (stopped || socket !== ws || message === null) return
      delivered = true
      failures = 0
      attempt = 0
      armDeadline(QUIET_TIMEOUT_MS, () => giveUp(ws, false))
      onStatus(message)
    })
    ws.addEventListener('close', (event) => {
      // A socket given up on closes later, on its own: it is no longer ours.
      if (socket !== ws) return
      socket = null
      clearDeadline()
      if (stopped) return
      if (event.code === CloseCode.notFound) {
        stop()
        onGone()
        return
      }
      if (!delivered) failures += 1
      next()
    })
  }

  /** Drops a socket past its deadline; `failed`: it never delivered a status. @param {WebSocket} ws @param {boolean} failed */
  function giveUp (ws, failed) {
    if (socket !== ws || stopped) return
    socket = null
    clearDeadline()
    ws.close()
    if (failed) {
      failures += 1
      next()
    } else {
      // It did work: a fresh socket at once, no backoff.
      connect()
    }
  }

  /** After a socket failed: another after a backoff, or polling once sockets keep failing. */
  function next () {
    if (failures >= SOCKET_FAILURES_BEFORE_POLLING) {
      startPolling()
      return
    }
    timer = setTimeout(connect, backoff(attempt))
    attempt += 1
  }

  function startPolling () {
    if (stopped || polling) return
    polling = true
    poll()
  }

  async function poll () {
    clearTimer()
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
    if (!stopped && timer === null) timer = setTimeout(poll, delay)
  }

  /** Whatever we were waiting for may have died meanwhile: look again now. */
  function onWoken () {
    if (stopped) return
    if (polling) {
      poll()
      return
    }
    const current = socket
    if (current !== null) {
      socket = null
      clearDeadline()
      current.close()
    }
    attempt = 0
    connect()
  }

  /** @param {number} ms @param {() => void} expire */
  function armDeadline (ms, expire) {
    clearDeadline()
    deadline = setTimeout(expire, ms)
  }

  function clearDeadline () {
    if (deadline !== null) clearTimeout(deadline)
    deadline = null
  }

  function clearTimer () {
    if (timer !== null) clearTimeout(timer)
    timer = null
  }

  function stop () {
    stopped = true
    clearTimer()
    clearDeadline()
    stopWaking()
    if (socket !== null && socket.readyState <= WebSocket.OPEN) socket.close(CloseCode.final)
    socket = null
  }

  const stopWaking = onWake(onWoken)
  connect()
  return { stop }
}

/** Full jitter over the upper half: spreads a crowd of reconnecting pages. @param {number} attempt */
function backoff (attempt) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt)
  return ceiling / 2 + Math.random() * (ceiling / 2)
}
