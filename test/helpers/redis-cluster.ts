/**
 * A Redis Cluster of the test's own: three masters on free loopback ports, no replicas, no
 * persistence, joined by `redis-cli --cluster create`. The suite starts one (test/run.ts) and hands
 * its nodes to every file as TEST_REDIS_CLUSTER_NODES.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freeLoopbackPort, waitForRedis } from './redis-server.js'
import { waitFor } from './wait.js'

export interface RedisClusterServer {
  /** host:port of each master, comma-separated: REDIS_CLUSTER_NODES. */
  nodes: string
  /** Stops every node (the whole cluster out of reach) and resolves once they have exited. */
  stop (): Promise<void>
  /** Starts them again on the same ports, empty (no persistence) but with their slots, and resolves once the cluster is ok. */
  start (): Promise<void>
  /** Stops every node and removes their directory. Harmless twice. */
  close (): Promise<void>
}

const MASTERS = 3

/** Why a cluster cannot be started here, or null: redis-cli joins the nodes, redis-server runs them. */
export function clusterToolsProblem (): string | null {
  for (const tool of ['redis-server', 'redis-cli']) {
    if (spawnSync(tool, ['--version']).error !== undefined) {
      return `${tool} is missing: the Redis Cluster tests start a cluster of their own (Debian/Ubuntu: apt-get install redis-server redis-tools; macOS: brew install redis)`
    }
  }
  return null
}

/** Every node answers cluster_state:ok: each knows all 16384 slots are served. */
async function clusterReady (ports: number[], password?: string): Promise<boolean> {
  const states = await Promise.all(ports.map(async (port) => {
    const redis = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    redis.on('error', () => {})
    try {
      await redis.connect()
      return String(await redis.cluster('INFO')).includes('cluster_state:ok')
    } catch {
      return false
    } finally {
      redis.disconnect()
    }
  }))
  return states.every(Boolean)
}

/** `password`: every node asks for it (requirepass), as a managed cluster does. */
export async function startRedisCluster ({ password }: { password?: string } = {}): Promise<RedisClusterServer> {
  const problem = clusterToolsProblem()
  if (problem !== null) throw new Error(problem)
  const dir = mkdtempSync(join(tmpdir(), 'wql-redis-cluster-'))
  const ports: number[] = []
  const children: ChildProcess[] = []
  let closed = false

  const stop = async (): Promise<void> => {
    const running = children.splice(0)
    await Promise.all(running.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }))
  }
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await stop()
    rmSync(dir, { recursive: true, force: true })
  }
  const auth = password === undefined ? '' : `:${encodeURIComponent(password)}@`
  // Each node keeps its cluster configuration (its id, its slots, its peers) in nodes-PORT.conf.
  const startNodes = async (): Promise<void> => {
    for (const port of ports) {
      children.push(spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--save', '', '--appendonly', 'no', '--dir', dir,
        ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password])
      ], { stdio: 'ignore' }))
    }
    await Promise.all(ports.map((port) => waitForRedis(`redis://${auth}127.0.0.1:${port}`, 10_000)))
  }
  const clusterOk = () => waitFor(() => clusterReady(ports, password), { timeoutMs: 20_000, intervalMs: 100, what: 'every cluster node to report cluster_state:ok' })

  try {
    while (ports.length < MASTERS) {
      const port = await freeLoopbackPort()
      if (!ports.includes(port)) ports.push(port)
    }
    await startNodes()
    const nodes = ports.map((port) => `127.0.0.1:${port}`)
    const cliAuth = password === undefined ? [] : ['-a', password, '--no-auth-warning']
    const created = spawnSync('redis-cli', [...cliAuth, '--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 })
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`)
    await clusterOk()
    return {
      nodes: nodes.join(','),
      stop,
      async start () {
        await startNodes()
        await clusterOk()
      },
      close
    }
  } catch (error) {
    await close()
    throw error
  }
}

/** The suite's cluster nodes (REDIS_CLUSTER_NODES for the cluster cases), or a clear failure: a cluster case never passes by skipping. */
export function requireClusterNodes (): string {
  const clusterNodes = process.env.TEST_REDIS_CLUSTER_NODES
  if (clusterNodes === undefined || clusterNodes === '') {
    throw new Error('TEST_REDIS_CLUSTER_NODES is unset: run the tests through `npm test` / `node dist/test/run.js`, which start a Redis Cluster, or give host:port of a cluster\'s masters')
  }
  return clusterNodes
}
