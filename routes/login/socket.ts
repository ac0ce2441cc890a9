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
/** A read that failed while Redis was away is tried again this soon (and at Redis' reconnect). */
export const STORE_RETRY_MS = 2000
/** setTimeout's ceiling; a longer QR lifetime is re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1

const subscribeMessage = TypeCompiler.Compile(SubscribeMessageSchema)

type Services = Pick<FastifyInstance, 'logins' | 'drivers' | 'metrics'>
type Log = FastifyRequest['log']

/**
 * One login watched over one socket. Listeners are attached synchronously (the client may send its
 * subscribe in the same tick as the upgrade); the state comes from the store after the bus
 * subscription is live, so no change can fall between the read and the subscription. The socket's
 * liveness (ping/pong) is the websocket plugin's, one clock for every socket.
 */
export function watchLogin (fastify: Services, socket: WebSocket, request: FastifyRequest, limits?: Pick<SocketLimits, 'watch'>): void {
  // eslint-disable-next-line no-new -- the watch lives as long as the socket's listeners hold it
  new LoginWatch(fastify, socket, request.log, limits)
}

/**
 * A class, not a closure per step: an instance is one object with its methods on the prototype,
 * where a dozen closures per socket cost about a kilobyte each of the 10,000 an instance holds.
 */
class LoginWatch {
  private subscribed = false
  private closed = false
  private lastSent = ''
  private unsubscribe: (() => Promise<void>) | null = null
  private expiryTimer: NodeJS.Timeout | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private subscribeTimer: NodeJS.Timeout | null
  private refreshing: Promise<void> | null = null
  private refreshAgain = false
  private credentials: SubscribeMessage | null = null
  /** When the webhook received the scan behind the change being read, if a bus message said: times the push. */
  private scanReceivedAt: number | undefined
  private releaseLogin: Release | null = null
  /** The login as last read: put back if Redis loses it while this socket watches. */
  private seen: LoginRecord | null = null

  constructor (
    private readonly services: Services,
    private readonly socket: WebSocket,
    private readonly log: Log,
    private readonly limits: Pick<SocketLimits, 'watch'> | undefined
  ) {
    this.subscribeTimer = setTimeout(closeUnsubscribed, SUBSCRIBE_TIMEOUT_MS, this)
    socket.on('message', (data, isBinary) => this.onMessage(data.toString(), isBinary))
    socket.on('close', () => {
      this.closed = true
      this.cleanup()
    })
  }

  private onMessage (text: string, isBinary: boolean): void {
    // One login per socket: further messages, subscribes included, are not for us.
    if (this.subscribed) return
    const message = isBinary ? null : parseJson(text)
    if (!subscribeMessage.Check(message)) {
      this.send({ type: 'error', error: 'bad_request' })
      this.close(CloseCode.badRequest, 'expected a subscribe message')
      return
    }
    this.subscribed = true
    this.credentials = message
    this.clearSubscribeTimer()
    this.start(message.scene).catch((error: unknown) => this.fail(error))
  }

  closeUnsubscribed (): void {
    this.subscribeTimer = null
    this.close(CloseCode.subscribeTimeout, 'subscribe timeout')
  }

  private async start (scene: string): Promise<void> {
    // The secret first: a stranger's guesses cost one read each, never a Redis subscription.
    if (!await this.knownLogin()) return
    this.releaseLogin = this.limits?.watch(scene) ?? null
    if (this.limits !== undefined && this.releaseLogin === null) {
      this.send({ type: 'error', error: 'too_many_sockets' })
      this.close(CloseCode.tooManySockets, 'too many sockets on this login')
      return
    }
    const remove = await this.services.drivers.loginBus.subscribe(scene, (receivedAt) => {
      this.scanReceivedAt = receivedAt ?? this.scanReceivedAt
      this.refreshInBackground()
    })
    if (this.closed) {
      await remove()
      return
    }
    this.unsubscribe = remove
    await this.refresh()
  }

  refreshInBackground (): void {
    this.refresh().catch((error: unknown) => this.fail(error))
  }

  /** Serialised: a change that arrives while reading triggers one more read, never a parallel one. */
  private refresh (): Promise<void> {
    if (this.refreshing !== null) {
      this.refreshAgain = true
      return this.refreshing
    }
    this.refreshing = this.readUntilSettled().finally(() => { this.refreshing = null })
    return this.refreshing
  }

  private async readUntilSettled (): Promise<void> {
    do {
      this.refreshAgain = false
      await this.pushCurrentState()
    } while (this.refreshAgain && !this.closed)
  }

  /** Whether the subscribe names a login and its secret; closes the socket (4404) when not. */
  private async knownLogin (): Promise<boolean> {
    if (this.credentials === null) return false
    const record = await this.services.logins.authorized(this.credentials.scene, this.credentials.secret)
    if (this.closed) return false
    if (record === null) this.refuseUnknown()
    return record !== null
  }

  /** Unknown scene and wrong secret alike. */
  private refuseUnknown (): void {
    this.send({ type: 'error', error: 'not_found' })
    this.close(CloseCode.notFound, 'not found')
  }

  private async pushCurrentState (): Promise<void> {
    if (this.closed || this.credentials === null) return
    const receivedAt = this.scanReceivedAt
    this.scanReceivedAt = undefined
    const record = await this.services.logins.authorized(this.credentials.scene, this.credentials.secret, this.seen)
    this.seen = record
    if (this.closed) return
    if (record === null) {
      this.refuseUnknown()
      return
    }
    const now = Date.now()
    const message = statusMessage(record, now)
    const serialized = JSON.stringify(message)
    if (serialized !== this.lastSent) {
      // This socket saw the login live before (every status it sent was not final): it watched it expire.
      const watchedExpiry = message.status === 'expired' && this.lastSent !== ''
      this.lastSent = serialized
      this.socket.send(serialized)
      if (receivedAt !== undefined) this.services.metrics.observeScanToPush(message.status, receivedAt)
      if (watchedExpiry) {
        this.services.metrics.logins.inc({ status: 'expired' })
        this.log.info({ login: loginLogKey(record.scene) }, 'login expired')
      }
    }
    if (isFinal(message.status)) {
      this.close(CloseCode.final, message.status)
    } else {
      this.armExpiry(record.expiresAt - now)
    }
  }

  /** Expiry is pushed even when no event ever comes: no polling, one timer per socket. */
  private armExpiry (delayMs: number): void {
    if (this.expiryTimer !== null) return
    this.expiryTimer = setTimeout(refreshAtExpiry, Math.min(Math.max(delayMs, 0) + 5, MAX_TIMER_MS), this)
  }

  expiryFired (): void {
    this.expiryTimer = null
    this.refreshInBackground()
  }

  retryFired (): void {
    this.retryTimer = null
    this.refreshInBackground()
  }

  private send (message: StatusMessage | SocketError): void {
    if (!this.closed && this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message))
  }

  private close (code: SocketCloseCode, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.socket.close(code, reason)
    this.cleanup()
  }

  private clearSubscribeTimer (): void {
    if (this.subscribeTimer !== null) clearTimeout(this.subscribeTimer)
    this.subscribeTimer = null
  }

  private cleanup (): void {
    this.clearSubscribeTimer()
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer)
    this.expiryTimer = null
    this.releaseLogin?.()
    this.releaseLogin = null
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    const remove = this.unsubscribe
    this.unsubscribe = null
    remove?.().catch((error: unknown) => this.log.warn({ err: error }, 'unsubscribe failed'))
  }

  private fail (error: unknown): void {
    if (this.unsubscribe !== null && isBackendUnavailable(error)) {
      // Subscribed: the page keeps its socket through a Redis outage, and hears of the login again
      // when the bus is back (it calls every listener after resubscribing) or at this retry.
      this.log.warn({ err: error }, 'login socket: state store unreachable, socket kept open')
      this.retryTimer ??= setTimeout(retryRead, STORE_RETRY_MS, this)
      return
    }
    this.log.error({ err: error }, 'login socket failed')
    this.send({ type: 'error', error: 'unavailable' })
    this.close(CloseCode.internalError, 'unavailable')
  }
}

// Timer callbacks shared by every watch (the watch is the timer's argument): no closure per timer.
function closeUnsubscribed (watch: LoginWatch): void { watch.closeUnsubscribed() }
function refreshAtExpiry (watch: LoginWatch): void { watch.expiryFired() }
function retryRead (watch: LoginWatch): void { watch.retryFired() }

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
