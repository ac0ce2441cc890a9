import type { AddressInfo } from 'node:net'

/** What `listeningOrigin` needs of a server: node's http.Server, or `fastify.server`. */
export interface Listening {
  address (): AddressInfo | string | null
}

/**
 * `http://host:port` where this process itself reaches `server`, or null before it listens on a TCP
 * port. A wildcard bind (0.0.0.0, ::) is reached on loopback; IPv6 addresses get their brackets.
 */
export function listeningOrigin (server: Listening): string | null {
  const address = server.address()
  if (address === null || typeof address === 'string') return null
  const wildcard = address.address === '0.0.0.0' || address.address === '::'
  const host = wildcard ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}
