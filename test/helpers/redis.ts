import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { Cluster, Redis } from 'ioredis'
import { redisClusterNodes } from '../../src/config.js'
import { requireClusterNodes } from './redis-cluster.js'
import type { Scope } from './scope.js'

export const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix no other test file (or run) shares. */
export function uniquePrefix (name: string): string {
  return `wqltest:${name}:${randomBytes(4).toString('hex')}:`
}

/** Which Redis of the suite: the single one (TEST_REDIS_URL) or the cluster (TEST_REDIS_CLUSTER_NODES). */
export type TestRedis = 'single' | 'cluster'

/** A client of the suite's Redis Cluster; the caller disconnects it. */
export function testCluster (): Cluster {
  const cluster = new Cluster(redisClusterNodes({ REDIS_CLUSTER_NODES: requireClusterNodes() }))
  cluster.on('error', () => {})
  return cluster
}

/** SCAN + DEL on one server; one key per DEL, as a cluster node refuses keys of several slots in one. */
async function deleteOn (redis: Redis, pattern: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) await keys.reduce((pipeline, key) => pipeline.del(key), redis.pipeline()).exec()
  } while (cursor !== '0')
}

/**
 * A test owns its keys: SCAN + DEL under its prefix, never FLUSHDB. On a cluster, on every master;
 * `where` may also be the URL of another single Redis (the bench's).
 */
export async function deleteKeys (prefix: string, where: TestRedis | string = 'single'): Promise<void> {
  if (where === 'cluster') {
    const cluster = testCluster()
    try {
      await cluster.ping()
      await Promise.all(cluster.nodes('master').map((node) => deleteOn(node, `${prefix}*`)))
    } finally {
      cluster.disconnect()
    }
    return
  }
  const redis = new Redis(where === 'single' ? redisUrl : where)
  try {
    await deleteOn(redis, `${prefix}*`)
  } finally {
    redis.disconnect()
  }
}

/** Deletes every key under `prefix` when the test ends. */
export function cleanupKeys (t: Scope, prefix: string, where: TestRedis = 'single'): void {
  t.after(() => deleteKeys(prefix, where))
}

export interface RedisProxy {
  /** redis://127.0.0.1:PORT, forwarding to the test Redis. */
  url: string
  /** Drops every connection and refuses new ones: Redis is "down" for whoever uses this URL. */
  cut (): void
  restore (): void
}

/** A TCP proxy in front of a real Redis (the suite's by default), so a test can take Redis away from one app and give it back. */
export async function startRedisProxy (t: Scope, targetUrl: string = redisUrl): Promise<RedisProxy> {
  const target = new URL(targetUrl)
  const sockets = new Set<Socket>()
  let up = true
  const server = createServer((client) => {
    if (!up) { client.destroy(); return }
    const upstream = connect(Number(target.port || 6379), target.hostname)
    sockets.add(client).add(upstream)
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream).pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  }))
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    cut () {
      up = false
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
    restore () { up = true }
  }
}
