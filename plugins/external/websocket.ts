import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { CloseCode } from '../../src/wire/login.js'

/** Login sockets carry one small JSON message in, a few out: anything bigger is hostile. */
export const WEBSOCKET_MAX_PAYLOAD = 4096
/** A page that does not answer our close frame is dropped after this, so shutdown never waits on it. */
const CLOSE_HANDSHAKE_MS = 2000

/**
 * On shutdown every socket closes with 1001 ("going away"): the page reconnects at once and, through
 * the load balancer, reaches an instance that stays, which sends it the login's current state.
 */
function closeSocketsGoingAway (this: FastifyInstance, done: () => void): void {
  const server = this.websocketServer
  for (const client of server.clients) client.close(CloseCode.goingAway, 'server shutting down')
  if (server.clients.size > 0) {
    setTimeout(() => { for (const client of server.clients) client.terminate() }, CLOSE_HANDSHAKE_MS).unref()
  }
  server.close()
  done()
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
  // Every socket this server holds is a login socket.
  fastify.metrics.watchSockets(() => fastify.websocketServer.clients.size)
}, { name: 'websocket', fastify: '5.x', dependencies: ['metrics'] })
