import type { FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from '@fastify/websocket'

/**
 * What an upgraded request leaves behind, released so that an idle login socket costs about what a
 * bare `ws` socket does. @fastify/websocket routes the upgrade through Fastify with a ServerResponse
 * bound to the TCP socket, which then holds that response (with the request, its headers and
 * Fastify's request and reply) for the socket's whole life, though nothing writes to it after the
 * 101. Measured: about 3 KiB of every idle socket's memory.
 */

/** preHandler of a WebSocket route: unbinds the unused HTTP response from the TCP socket. */
export function detachUpgradeResponse (request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (request.ws) reply.raw.detachSocket(request.raw.socket)
  done()
}

/**
 * In the handler: @fastify/websocket's error listener closes over the request and reply; this one
 * keeps only the logger. A socket error (a reset, a bad frame) is then ws' to close, as before.
 */
export function keepOnlyTheLogger (socket: WebSocket, log: FastifyRequest['log']): void {
  socket.removeAllListeners('error')
  socket.on('error', (error) => log.warn({ err: error }, 'login socket error'))
}
