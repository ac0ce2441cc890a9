/**
 * A TCP load balancer on loopback, round robin over the backends that accept a connection: a
 * refused one is skipped, and a request a backend dropped unanswered goes to the next, as nginx's
 * proxy_next_upstream does. One client connection is one backend connection once answered; when
 * either side closes, so does the other.
 */
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import type { Scope } from './scope.js'

export interface Balancer {
  /** http://127.0.0.1:PORT */
  url: string
  /** Connections handed to each backend port so far. */
  connections: Map<number, number>
}

function connectTo (port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const upstream = connect(port, '127.0.0.1')
    upstream.once('connect', () => { upstream.off('error', reject); resolve(upstream) })
    upstream.once('error', reject)
  })
}

export async function startBalancer (scope: Scope, backendPorts: readonly number[]): Promise<Balancer> {
  const sockets = new Set<Socket>()
  const connections = new Map<number, number>()
  let next = 0
  const server = createServer((client) => {
    sockets.add(client)
    client.on('error', () => client.destroy())
    client.on('close', () => sockets.delete(client))
    const order = backendPorts.map((_, i) => backendPorts[(next + i) % backendPorts.length] as number)
    next = (next + 1) % backendPorts.length
    // What the client sent before the backend answered anything: replayed to the next backend if
    // this one closes without a byte (an instance shutting down drops connections it has not read
    // from), as nginx's proxy_next_upstream does for an error before the response header.
    const unanswered: Buffer[] = []
    let answered = false
    client.on('data', (chunk: Buffer) => { if (!answered) unanswered.push(chunk) })

    async function tryBackends (from: number): Promise<void> {
      for (let i = from; i < order.length; i++) {
        if (client.destroyed) return
        const port = order[i] as number
        const upstream = await connectTo(port).catch(() => null)
        if (upstream === null) continue
        connections.set(port, (connections.get(port) ?? 0) + 1)
        sockets.add(upstream)
        for (const chunk of unanswered) upstream.write(chunk)
        const forward = (chunk: Buffer) => { if (!upstream.destroyed) upstream.write(chunk) }
        client.on('data', forward)
        upstream.on('data', (chunk: Buffer) => {
          answered = true
          unanswered.length = 0
          client.write(chunk)
        })
        upstream.on('error', () => upstream.destroy())
        upstream.on('close', () => {
          sockets.delete(upstream)
          client.off('data', forward)
          if (!answered && !client.destroyed) {
            tryBackends(i + 1).catch(() => client.destroy())
            return
          }
          client.end()
        })
        client.on('close', () => upstream.destroy())
        client.on('end', () => upstream.end())
        return
      }
      client.destroy()
    }
    tryBackends(0).catch(() => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  scope.after(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  }))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, connections }
}
