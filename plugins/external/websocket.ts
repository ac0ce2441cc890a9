import fp from 'fastify-plugin'
import websocket, { type WebSocket } from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { CloseCode } from '../../src/wire/login.js'

/** Login sockets carry one small JSON message in, a few out: anything bigger is hostile. */
export const WEBSOCKET_MAX_PAYLOAD = 4096
/** A page that does not answer our close frame is dropped after this, so shutdown never waits on it. */
const CLOSE_HANDSHAKE_MS = 2000

/**
 * On shutdown every socket closes with 1001 ("going away"): the page reconnects at once and, through
 * the load balancer, reaches an instance that stays, which sends it the login's current state.
 * Shutdown goes on once the pages answered (or CLOSE_HANDSHAKE_MS passed): the HTTP server's close
 * that follows destroys every connection without a response in flight, upgraded ones included,
 * and a page whose 1001 had not left yet would see 1006 instead.
 */
function closeSocketsGoingAway (this: FastifyInstance, done: () => void): void {
  const server = this.websocketServer
  const open = [...server.clients].filter((client) => client.readyState !== client.CLOSED)
  for (const client of open) client.close(CloseCode.goingAway, 'server shutting down')
  server.close()
  if (open.length === 0) {
    done()
    return
  }
  let waiting = open.length
  let finished = false
  const finish = (): void => {
    if (finished) return
    finished = true
    clearTimeout(deadline)
    done()
  }
  const deadline = setTimeout(() => {
    for (const client of server.clients) client.terminate()
    finish()
  }, CLOSE_HANDSHAKE_MS)
  for (const client of open) client.once('close', () => { if (--waiting === 0) finish() })
}

/** Sockets pinged by the last tick that have not answered yet. */
const awaitingPong = new WeakSet<WebSocket>()

function answered (this: WebSocket): void {
  awaitingPong.delete(this)
}

/**
 * A sweep pings its sockets in slices this far apart, never all at once: 10,000 pings in a burst
 * (and the 10,000 pongs that come back together) held the event loop for tens of milliseconds, and
 * every login pushed meanwhile waited behind them (the p99 of 100 logins a second past 10,000 open
 * pages). Spread out, a slice costs about a millisecond and the pongs trickle in.
 */
const SLICE_GAP_MS = 10
const MIN_PINGS_PER_SLICE = 32
/** However many sockets, a sweep ends within this share of the interval. */
const SWEEP_SHARE_OF_INTERVAL = 0.25

/**
 * One clock for every socket of the instance (ws' own heartbeat pattern), not an interval per
 * socket: each sweep drops the sockets that missed the previous ping (a phone that lost its network
 * never sends a close) and pings the others, slice by slice; the pong listener is one function for
 * all. A sweep's list of sockets lives only as long as the sweep (a fraction of the interval), so
 * closed sockets are not held for long.
 */
function startHeartbeat (fastify: FastifyInstance, intervalMs: number): () => void {
  const server = fastify.websocketServer
  server.on('connection', (socket: WebSocket) => { socket.on('pong', answered) })
  const slices = Math.max(1, Math.floor(intervalMs * SWEEP_SHARE_OF_INTERVAL / SLICE_GAP_MS))
  let sliceTimer: NodeJS.Timeout | null = null
  const sweep = (sockets: WebSocket[], from: number, perSlice: number, dropped: number): void => {
    sliceTimer = null
    const to = Math.min(from + perSlice, sockets.length)
    for (let i = from; i < to; i++) {
      const socket = sockets[i] as WebSocket
      if (socket.readyState !== socket.OPEN) continue
      if (awaitingPong.has(socket)) {
        socket.terminate()
        dropped++
        continue
      }
      awaitingPong.add(socket)
      socket.ping()
    }
    if (to < sockets.length) {
      sliceTimer = setTimeout(sweep, SLICE_GAP_MS, sockets, to, perSlice, dropped)
      sliceTimer.unref()
    } else if (dropped > 0) fastify.log.info({ dropped }, 'login sockets missed their pong: terminated')
  }
  const timer = setInterval(() => {
    if (sliceTimer !== null || server.clients.size === 0) return
    const sockets = [...server.clients]
    sweep(sockets, 0, Math.max(MIN_PINGS_PER_SLICE, Math.ceil(sockets.length / slices)), 0)
  }, intervalMs)
  timer.unref()
  return () => {
    clearInterval(timer)
    if (sliceTimer !== null) clearTimeout(sliceTimer)
  }
}

export default fp(async function websocketPlugin (fastify) {
  await fastify.register(websocket, {
    options: { maxPayload: WEBSOCKET_MAX_PAYLOAD },
    preClose: closeSocketsGoingAway,
    errorHandler (error, socket, request) {
      request.log.error({ err: error }, 'websocket handler failed')
      socket.close(CloseCode.internalError, 'internal error')
    }
  })
  const stopHeartbeat = startHeartbeat(fastify, fastify.config.SOCKET_PING_SECONDS * 1000)
  fastify.addHook('onClose', (_instance, done) => {
    stopHeartbeat()
    done()
  })
  // Every socket this server holds is a login socket.
  fastify.metrics.watchSockets(() => fastify.websocketServer.clients.size)
}, { name: 'websocket', fastify: '5.x', dependencies: ['config', 'metrics'] })
