import { redisClusterCredentials, redisClusterNodes, type Config } from '../config.js'
import type { Log } from '../log.js'
import { scanDedupTtlMs, scanRetryPolicy } from '../jobs/definitions.js'
import { createEmbeddedDrivers, type EmbeddedDrivers } from './memory/drivers.js'
import { createRedisDrivers, type RedisDrivers } from './redis/drivers.js'

import type { DriverEvents } from './drivers.js'

export type { DriverEvents, Drivers } from './drivers.js'
export type { EmbeddedDrivers } from './memory/drivers.js'
export type { RedisDrivers } from './redis/drivers.js'

/** Without a log (tools, tests) connection errors are dropped rather than printed to the console. */
const silent: Log = { fatal () {}, error () {}, warn () {}, info () {}, debug () {} }

/**
 * The drivers, chosen once at boot: Redis with REDIS_URL, Redis Cluster with REDIS_CLUSTER_NODES,
 * this process (embedded mode) without either.
 */
export function createDrivers (config: Config, log: Log = silent, events: DriverEvents = {}): RedisDrivers | EmbeddedDrivers {
  const queueOptions = {
    retry: scanRetryPolicy(config.LOGIN_TTL_SECONDS * 1000),
    dedupTtlMs: scanDedupTtlMs(config.WECHAT_TIMESTAMP_TOLERANCE_SECONDS)
  }
  if (config.REDIS_URL !== undefined) return createRedisDrivers({ layout: 'single', url: config.REDIS_URL }, config, log, queueOptions, events)
  if (config.REDIS_CLUSTER_NODES !== undefined) return createRedisDrivers({ layout: 'cluster', nodes: redisClusterNodes(config), credentials: redisClusterCredentials(config), tls: config.REDIS_CLUSTER_TLS }, config, log, queueOptions, events)
  return createEmbeddedDrivers(queueOptions)
}
