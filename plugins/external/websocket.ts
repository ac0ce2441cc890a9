import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { CloseCode } from '../../src/wire/login.js'

/** Login sockets carry one small JSON message in, a few out: anything bigger is hostile. */
export const WEBSOCKET_MAX_PAYLOAD = 4096

export default fp(async function websocketPlugin (fastify) {
  await fastify.register(websocket, {
    options: { maxPayload: WEBSOCKET_MAX_PAYLOAD },
    errorHandler (error, socket, request) {
      request.log.error({ err: error }, 'websocket handler failed')
      socket.close(CloseCode.internalError, 'internal error')
    }
  })
  // Every socket this server holds is a login socket.
  fastify.metrics.watchSockets(() => fastify.websocketServer.clients.size)
}, { name: 'websocket', fastify: '5.x', dependencies: ['metrics'] })
