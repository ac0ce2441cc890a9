import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import type { Log } from '../../src/log.js'
import { loadConfig, type Env } from '../../src/config.js'
import { createDrivers, type EmbeddedDrivers, type RedisDrivers } from '../../src/drivers/index.js'
import { requireClusterNodes } from '../helpers/redis-cluster.js'
import { deleteKeys, redisUrl, testCluster } from '../helpers/redis.js'

/** Test credentials: never real ones. */
const TEST_ENV = {
  WECHAT_APP_ID: 'wxdriverstest0001',
  WECHAT_APP_SECRET: 'test-app-secret-drivers',
  WECHAT_TOKEN: 'driverstoken',
  API_KEY: 'test-api-key-drivers-0123'
} as const

export interface TestDrivers {
  drivers: RedisDrivers | EmbeddedDrivers
  /** The REDIS_PREFIX these drivers use ('' for embedded ones). */
  prefix: string
}

export interface DriverCase {
  /** 'redis': one Redis; 'cluster': the suite's Redis Cluster (REDIS_CLUSTER_NODES); 'embedded': no Redis. */
  name: 'redis' | 'cluster' | 'embedded'
  /**
   * Fresh, ready drivers for one test; closed (and their Redis keys deleted) when it ends. `env` adds
   * to the test configuration, or replaces it (REDIS_URL: a Redis of the test's own).
   */
  create (t: Test, env?: Env): Promise<TestDrivers>
}

/**
 * The same contract, run against each driver: on one Redis, on a Redis Cluster (where a script
 * whose keys span slots is refused with CROSSSLOT, so the contract proves every group shares its
 * tag), and embedded. `file` names the test file: its Redis keys live
 * under a prefix no other file or run shares, one sub-prefix per create() so that one test's
 * queue never hands jobs to the next test's worker.
 */
export function driverMatrix (file: string): DriverCase[] {
  const filePrefix = `wqltest:drivers-${file}:${randomBytes(4).toString('hex')}:`
  let created = 0
  const onRedis = (name: 'redis' | 'cluster', redis: () => Env): DriverCase => ({
    name,
    async create (t, env = {}) {
      const prefix = `${filePrefix}${++created}:`
      const drivers = createDrivers(loadConfig({ ...TEST_ENV, ...redis(), ...env, REDIS_PREFIX: prefix }))
      t.after(async () => {
        await drivers.close()
        await deleteKeys(prefix, name === 'cluster' ? 'cluster' : 'single')
      })
      await drivers.ready()
      return { drivers, prefix }
    }
  })

  return [
    onRedis('redis', () => ({ REDIS_URL: redisUrl })),
    onRedis('cluster', () => ({ REDIS_CLUSTER_NODES: requireClusterNodes() })),
    {
      name: 'embedded',
      async create (t, env = {}) {
        const drivers = createDrivers(loadConfig({ ...TEST_ENV, ...env }))
        t.after(() => drivers.close())
        await drivers.ready()
        return { drivers, prefix: '' }
      }
    }
  ]
}

/** A plain Redis client for looking at what a driver did, quit after the test. */
export async function inspector (t: Test): Promise<Redis> {
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  return redis
}

/** A plain client of each master of the suite's cluster, for looking at what a driver did there; closed after the test. */
export async function clusterMasters (t: Test): Promise<Redis[]> {
  const cluster = testCluster()
  t.after(() => cluster.quit())
  await cluster.ping()
  return cluster.nodes('master')
}

export interface LogEntry {
  level: 'fatal' | 'error' | 'warn' | 'info' | 'debug'
  args: unknown[]
}

/** A Log that keeps what it was given, for asserting what the worker reported. */
export function captureLog (): Log & { entries: LogEntry[] } {
  const entries: LogEntry[] = []
  const at = (level: LogEntry['level']) => (...args: unknown[]) => { entries.push({ level, args }) }
  return { entries, fatal: at('fatal'), error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
}
