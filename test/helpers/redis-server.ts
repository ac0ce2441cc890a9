/**
 * A redis-server of the test's own, without persistence, on a free loopback port: the suite's
 * throwaway Redis (test/run.ts), and the fault tests', which kill and restart theirs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis, type RedisOptions } from 'ioredis'
import type { Scope } from './scope.js'
import { waitFor } from './wait.js'

export interface RedisServer {
  /** redis://127.0.0.1:PORT, the same across restarts. */
  url: string
  port: number
  /** Ends the process with `signal` (SIGKILL: a crash) and resolves once it has exited. */
  stop (signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port, empty (no persistence), and resolves once it answers. */
  start (): Promise<void>
  /** Stops it for good and removes its directory. Harmless twice. */
  close (): Promise<void>
}

export function hasRedisServer (): boolean {
  return spawnSync('redis-server', ['--version']).error === undefined
}

export async function freeLoopbackPort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** A URL, or the options of a server a URL cannot describe (TLS with a CA of the test's own). */
export type RedisAddress = string | RedisOptions

/** One connection attempt, without retries of its own (the callers retry): `ask`'s answer, or its failure. */
export async function askRedis<T> (address: RedisAddress, ask: (client: Redis) => Promise<T>): Promise<T> {
  const options: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null }
  const client = typeof address === 'string' ? new Redis(address, options) : new Redis({ ...address, ...options })
  client.on('error', () => {})
  try {
    await client.connect()
    return await ask(client)
  } finally {
    client.disconnect()
  }
}

/** Fails with Redis' last refusal (a refused connection, a wrong password…), as it is the useful message. */
export async function waitForRedis (address: RedisAddress, deadlineMs: number): Promise<void> {
  let lastFailure: unknown
  const answers = () => askRedis(address, (client) => client.ping()).then(() => true, (error: unknown) => { lastFailure = error; return false })
  await waitFor(answers, { timeoutMs: deadlineMs, intervalMs: 50, what: 'Redis to answer' })
    .catch((timedOut: unknown) => { throw lastFailure ?? timedOut })
}

/** Starts a redis-server; with a scope, it is closed when the scope ends. */
export async function startRedisServer (scope?: Scope): Promise<RedisServer> {
  const port = await freeLoopbackPort()
  const dir = mkdtempSync(join(tmpdir(), 'wql-redis-'))
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | null = null
  let closed = false

  const server: RedisServer = {
    url,
    port,
    async start () {
      if (child !== null) throw new Error('redis-server is already running')
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
      await waitForRedis(url, 10_000)
    },
    async stop (signal = 'SIGTERM') {
      const running = child
      child = null
      if (running === null || running.exitCode !== null || running.signalCode !== null) return
      const exited = once(running, 'exit')
      running.kill(signal)
      await exited
    },
    async close () {
      if (closed) return
      closed = true
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  scope?.after(() => server.close())
  await server.start()
  return server
}
