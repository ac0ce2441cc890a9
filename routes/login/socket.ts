import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from '@fastify/websocket'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { loginLogKey } from '../../src/login/log-key.js'
import { isBackendUnavailable } from '../../src/errors.js'
import { isFinal, statusMessage } from '../../src/login/status.js'
import type { LoginRecord } from '../../src/login/types.js'
import {
  CloseCode, SubscribeMessageSchema, type SocketCloseCode, type SocketError, type StatusMessage, type SubscribeMessage
} from '../../src/wire/login.js'
import type { Release, SocketLimits } from './socket-limits.js'

export const SUBSCRIBE_TIMEOUT_MS = 10_000
/** A socket that misses one ping interval's pong is dead (a phone that lost its network): dropped. */
export const PING_INTERVAL_MS = 30_000
/** A read that failed while Redis was away is tried again this soon (and at Redis' reconnect). */
export const STORE_RETRY_MS = 2000
/** setTimeout's ceiling; a longer QR lifetime is re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1

const subscribeMessage = TypeCompiler.Compile(SubscribeMessageSchema)

/**
 * One login watched over one socket. Listeners are attached synchronously (the client may send its
 * subscribe in the same tick as the upgrade); the state comes from the store after the bus
 * subscription is live, so no change can fall between the read and the subscription.
 */
export function watchLogin (fastify: FastifyInstance, socket: WebSocket, request: FastifyRequest, limits?: Pick<SocketLimits, 'watch'>): void {
  const { logins, drivers, metrics } = fastify
  const log = request.log
  let subscribed = false
  let closed = false
  let lastSent = ''
  let unsubscribe: (() => Promise<void>) | null = null
  let expiryTimer: NodeJS.Timeout | null = null
  let refreshing: Promise<void> | null = null
  let refreshAgain = false
  let credentials: SubscribeMessage | null = null
  /** When the webhook received the scan behind the change being read, if a bus message said: times the push. */
  let scanReceivedAt: number | undefined
  let releaseLogin: Release | null = null
  /** The login as last read: put back if Redis loses it while this socket watches. */
  let seen: LoginRecord | null = null
  let retryTimer: NodeJS.Timeout | null = null

  const subscribeTimer = setTimeout(() => close(CloseCode.subscribeTimeout, 'subscribe timeout'), SUBSCRIBE_TIMEOUT_MS)
  let answeredPing = true
  const heartbeat = setInterval(() => {
    if (!answeredPing) {
      log.info('login socket missed its pong: terminated')
      socket.terminate()
      return
    }
    answeredPing = false
    socket.ping()
  }, PING_INTERVAL_MS)
  socket.on('pong', () => { answeredPing = true })

  socket.on('message', (data, isBinary) => {
    // One login per socket: further messages, subscribes included, are not for us.
    if (subscribed) return
    const message = isBinary ? null : parseJson(data.toString())
    if (!subscribeMessage.Check(message)) {
      send({ type: 'error', error: 'bad_request' })
      close(CloseCode.badRequest, 'expected a subscribe message')
      return
    }
    subscribed = true
    credentials = message
    clearTimeout(subscribeTimer)
    start(message.scene).catch(fail)
  })
  socket.on('close', () => {
    closed = true
    cleanup()
  })
  socket.on('error', (error) => log.warn({ err: error }, 'login socket error'))

  async function start (scene: string): Promise<void> {
    // The secret first: a stranger's guesses cost one read each, never a Redis subscription.
    if (!await knownLogin()) return
    releaseLogin = limits?.watch(scene) ?? null
    if (limits !== undefined && releaseLogin === null) {
      send({ type: 'error', error: 'too_many_sockets' })
      close(CloseCode.tooManySockets, 'too many sockets on this login')
      return
    }
    const remove = await drivers.loginBus.subscribe(scene, (receivedAt) => {
      scanReceivedAt = receivedAt ?? scanReceivedAt
      refresh().catch(fail)
    })
    if (closed) {
      await remove()
      return
    }
    unsubscribe = remove
    await refresh()
  }

  /** Serialised: a change that arrives while reading triggers one more read, never a parallel one. */
  function refresh (): Promise<void> {
    if (refreshing !== null) {
      refreshAgain = true
      return refreshing
    }
    refreshing = (async () => {
      do {
        refreshAgain = false
        await pushCurrentState()
        // eslint-disable-next-line no-unmodified-loop-condition -- the socket's close handler sets it while we await
      } while (refreshAgain && !closed)
    })().finally(() => { refreshing = null })
    return refreshing
  }

  /** Whether the subscribe names a login and its secret; closes the socket (4404) when not. */
  async function knownLogin (): Promise<boolean> {
    if (credentials === null) return false
    const record = await logins.authorized(credentials.scene, credentials.secret)
    if (closed) return false
    if (record === null) refuseUnknown()
    return record !== null
  }

  /** Unknown scene and wrong secret alike. */
  function refuseUnknown (): void {
    send({ type: 'error', error: 'not_found' })
    close(CloseCode.notFound, 'not found')
  }

  async function pushCurrentState (): Promise<void> {
    if (closed || credentials === null) return
    const receivedAt = scanReceivedAt
    scanReceivedAt = undefined
    const record = await logins.authorized(credentials.scene, credentials.secret, seen)
    seen = record
    if (closed) return
    if (record === null) {
      refuseUnknown()
      return
    }
    const now = Date.now()
    const message = statusMessage(record, now)
    const serialized = JSON.stringify(message)
    if (serialized !== lastSent) {
      // This socket saw the login live before (every status it sent was not final): it watched it expire.
      const watchedExpiry = message.status === 'expired' && lastSent !== ''
      lastSent = serialized
      socket.send(serialized)
      if (receivedAt !== undefined) metrics.observeScanToPush(message.status, receivedAt)
      if (watchedExpiry) {
        metrics.logins.inc({ status: 'expired' })
        log.info({ login: loginLogKey(record.scene) }, 'login expired')
      }
    }
    if (isFinal(message.status)) {
      close(CloseCode.final, message.status)
    } else {
      armExpiry(record.expiresAt - now)
    }
  }

  /** Expiry is pushed even when no event ever comes: no polling, one timer per socket. */
  function armExpiry (delayMs: number): void {
    if (expiryTimer !== null) return
    expiryTimer = setTimeout(() => {
      expiryTimer = null
      refresh().catch(fail)
    }, Math.min(Math.max(delayMs, 0) + 5, MAX_TIMER_MS))
  }

  function send (message: StatusMessage | SocketError): void {
    if (!closed && socket.readyState === socket.OPEN) socket.send(JSON.stringify(message))
  }

  function close (code: SocketCloseCode, reason: string): void {
    if (closed) return
    closed = true
    socket.close(code, reason)
    cleanup()
  }

  function cleanup (): void {
    clearTimeout(subscribeTimer)
    clearInterval(heartbeat)
    if (expiryTimer !== null) clearTimeout(expiryTimer)
    expiryTimer = null
    releaseLogin?.()
    releaseLogin = null
    if (retryTimer !== null) clearTimeout(retryTimer)
    retryTimer = null
    const remove = unsubscribe
    unsubscribe = null
    remove?.().catch((error: unknown) => log.warn({ err: error }, 'unsubscribe failed'))
  }

  function fail (error: unknown): void {
    if (unsubscribe !== null && isBackendUnavailable(error)) {
      // Subscribed: the page keeps its socket through a Redis outage, and hears of the login again
      // when the bus is back (it calls every listener after resubscribing) or at this retry.
      log.warn({ err: error }, 'login socket: state store unreachable, socket kept open')
      retryTimer ??= setTimeout(() => {
        retryTimer = null
        refresh().catch(fail)
      }, STORE_RETRY_MS)
      return
    }
    log.error({ err: error }, 'login socket failed')
    send({ type: 'error', error: 'unavailable' })
    close(CloseCode.internalError, 'unavailable')
  }
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
