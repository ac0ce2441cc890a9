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

/** Sockets pinged in one turn of the event loop: 10,000 pings at once held it for tens of milliseconds. */
const PINGS_PER_TURN = 256

/**
 * One clock for every socket of the instance (ws' own heartbeat pattern), not an interval per
 * socket: each tick drops the sockets that missed the previous ping (a phone that lost its network
 * never sends a close) and pings the others, a slice per turn of the event loop so that a login's
 * push never waits behind them; the pong listener is one function for all.
 */
function startHeartbeat (fastify: FastifyInstance, intervalMs: number): () => void {
  const server = fastify.websocketServer
  server.on('connection', (socket: WebSocket) => { socket.on('pong', answered) })
  let stopped = false
  const beat = (sockets: WebSocket[], from: number, dropped: number): void => {
    const to = Math.min(from + PINGS_PER_TURN, sockets.length)
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
    if (to < sockets.length && !stopped) setImmediate(beat, sockets, to, dropped)
    else if (dropped > 0) fastify.log.info({ dropped }, 'login sockets missed their pong: terminated')
  }
  const timer = setInterval(() => beat([...server.clients], 0, 0), intervalMs)
  timer.unref()
  return () => {
    stopped = true
    clearInterval(timer)
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
