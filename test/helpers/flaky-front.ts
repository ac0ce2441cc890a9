/**
 * A TCP proxy in front of the app that the browser loads the page through, so a test can break the
 * network between browser and service the ways real networks do: a WebSocket handshake reset, or
 * held forever (a proxy that never answers); every open connection frozen (a laptop asleep, a NAT
 * that forgot us). HTTP passes through untouched.
 */
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import type { Scope } from './scope.js'
import { deferred, withDeadline, type Deferred } from './wait.js'

/** What happens to one WebSocket handshake. */
export type Handshake = 'pass' | 'reset' | 'stall'

export interface FlakyFront {
  /** http://127.0.0.1:PORT: where the page is loaded from (add it to ALLOWED_ORIGINS). */
  url: string
  /** How the next handshakes go, in order; after these, 'pass'. */
  plan (...handshakes: Handshake[]): void
  /** Every handshake seen, with what happened to it. */
  handshakes: Handshake[]
  /** Resolves once the `n`th handshake (from 1) has arrived; rejects after `timeoutMs`. */
  handshake (n: number, timeoutMs?: number): Promise<void>
  /** Every connection open now stops carrying bytes either way, and stays open. New ones work. */
  freeze (): void
}

const WEBSOCKET_UPGRADE = /^GET \/api\/login\/ws[ ?][^]*\r\nupgrade: *websocket\r\n/i

export async function startFlakyFront (scope: Scope, targetPort: number, port = 0): Promise<FlakyFront> {
  const planned: Handshake[] = []
  const handshakes: Handshake[] = []
  const arrivals: Array<Deferred<void>> = []
  const open = new Set<{ client: Socket, upstream: Socket | null }>()
  const arrival = (n: number) => (arrivals[n - 1] ??= deferred())

  const server = createServer((client) => {
    const pair: { client: Socket, upstream: Socket | null } = { client, upstream: null }
    open.add(pair)
    const drop = () => { client.destroy(); pair.upstream?.destroy(); open.delete(pair) }
    client.on('error', drop).on('close', drop)
    client.once('data', (first: Buffer) => {
      const upgrade = WEBSOCKET_UPGRADE.test(first.toString('latin1'))
      const handling: Handshake = upgrade ? planned.shift() ?? 'pass' : 'pass'
      if (upgrade) {
        handshakes.push(handling)
        arrival(handshakes.length).resolve()
      }
      if (handling === 'reset') { client.resetAndDestroy(); return }
      // 'stall': the request was read; no answer ever comes.
      if (handling === 'stall') return
      const upstream = connect(targetPort, '127.0.0.1')
      pair.upstream = upstream
      upstream.on('error', drop).on('close', drop)
      upstream.write(first)
      client.pipe(upstream).pipe(client)
    })
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  scope.after(() => new Promise<void>((resolve) => {
    for (const pair of open) { pair.client.destroy(); pair.upstream?.destroy() }
    server.close(() => resolve())
  }))
  const address = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}`,
    plan (...next) { planned.push(...next) },
    handshakes,
    handshake: (n, timeoutMs = 15_000) => withDeadline(arrival(n).promise, timeoutMs, `WebSocket handshake #${n}`),
    freeze () {
      for (const { client, upstream } of open) {
        client.unpipe()
        upstream?.unpipe()
        client.pause()
        upstream?.pause()
      }
    }
  }
}
