import type { Config } from '../../config.js'
import type { Log } from '../../log.js'
import { SCAN_JOB, WECHAT_EVENTS_QUEUE, type JobWorker, type ScanJob, type ScanQueueOptions } from '../../jobs/definitions.js'
import type { DriverEvents, Drivers } from '../drivers.js'
import {
  closeConnection, connect, createBlockingConnection, createCommandConnection, createSubscriberConnection, logConnectionErrors,
  type RedisClient, type RedisTarget
} from './connections.js'
import { createBullQueue, startBullWorker } from './job-queue.js'
import { redisKeyspace } from './keys.js'
import { createRedisLoginBus } from './login-bus.js'
import { createRedisLoginStore } from './login-store.js'
import { clusterVersionProblem } from './server-version.js'
import { createRedisSignatureLedger } from './signature-ledger.js'
import { createRedisTokenCache } from './token-cache.js'
import { createRedisOAuthStateStore } from './oauth-state-store.js'
import { createRedisUserTokenStore } from './oauth-user-token-store.js'

export interface RedisDrivers extends Drivers {
  mode: 'redis'
  /**
   * The fail-fast connection the drivers' own commands use, for a third-party store that takes an
   * ioredis client (@fastify/rate-limit's): it shares the drivers' Redis and fails as they do, and
   * the drivers close it. Not a driver role: embedded mode has no such thing.
   */
  commandConnection (): RedisClient
}

/**
 * Every instance and worker of the deployment on one Redis, or one Redis Cluster. Request-path
 * commands share one fail-fast connection (on a cluster, one client with a connection per node);
 * each subscriber and each worker has its own (a subscribed or blocked connection does nothing else).
 */
export function createRedisDrivers (target: RedisTarget, config: Config, log: Log, queueOptions: ScanQueueOptions, events: DriverEvents = {}): RedisDrivers {
  const keys = redisKeyspace(config.REDIS_PREFIX, target.layout)
  const commands = createCommandConnection(target, keys.connectionName('commands'))
  const subscriber = createSubscriberConnection(target, keys.connectionName('login-subscriber'))
  // The token cache's own subscriber: one fixed channel, independent of the login bus's per-scene ones.
  const tokenSubscriber = createCommandConnection(target, keys.connectionName('token-subscriber'))
  for (const connection of [commands, subscriber, tokenSubscriber]) logConnectionErrors(connection, log)
  const tokenCache = createRedisTokenCache(commands, tokenSubscriber, keys.accessToken(config.WECHAT_APP_ID))
  const bull = { prefix: keys.bullPrefix, connection: commands }
  const scanQueue = createBullQueue<ScanJob>(WECHAT_EVENTS_QUEUE, SCAN_JOB, { ...bull, log, ...queueOptions })
  const workerConnections: RedisClient[] = []
  const workers: JobWorker[] = []
  let closed: Promise<void> | null = null

  return {
    mode: 'redis',
    loginStore: createRedisLoginStore(commands, keys),
    loginBus: createRedisLoginBus(commands, subscriber, keys.loginChannel, events.busResubscribed),
    signatureLedger: createRedisSignatureLedger(commands, keys.webhookSignature),
    oauthStateStore: createRedisOAuthStateStore(commands, keys),
    userTokenStore: createRedisUserTokenStore(commands, keys),
    tokenCache,
    scanQueue,

    commandConnection () {
      return commands
    },

    startScanWorker (processor, options) {
      const connection = createBlockingConnection(target, keys.connectionName('worker'))
      logConnectionErrors(connection, options.log)
      workerConnections.push(connection)
      const worker = startBullWorker(WECHAT_EVENTS_QUEUE, processor, { ...bull, ...options, connection, retry: queueOptions.retry })
      workers.push(worker)
      return worker
    },

    async ready () {
      await Promise.all([connect(commands), connect(subscriber), connect(tokenSubscriber)])
      if (target.layout === 'cluster') {
        const problem = clusterVersionProblem(await commands.info('server'))
        if (problem !== null) throw new Error(problem)
      }
      await tokenCache.subscribe()
    },

    onAvailable (listener) {
      commands.on('ready', listener)
      return () => { commands.off('ready', listener) }
    },

    async healthy () {
      if (commands.status !== 'ready') return false
      try {
        return await commands.ping() === 'PONG'
      } catch {
        return false
      }
    },

    close () {
      closed ??= (async () => {
        await Promise.all(workers.map((worker) => worker.close()))
        await scanQueue.close()
        await Promise.all([commands, subscriber, tokenSubscriber, ...workerConnections].map(closeConnection))
      })()
      return closed
    }
  }
}
