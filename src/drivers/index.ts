import type { Log } from '../log.js'
import type { Config } from '../config.js'
import { SCAN_JOB, WECHAT_EVENTS_QUEUE, type JobProcessor, type JobQueue, type JobWorker, type ScanJob } from '../jobs/definitions.js'
import type { LoginBus } from '../login/bus.js'
import type { LoginStore } from '../login/store.js'
import type { TokenCache } from '../wechat/access-token.js'
import type { SignatureLedger } from '../wechat/signature-ledger.js'
import { createRedisSignatureLedger } from './redis/signature-ledger.js'
import { createEmbeddedDrivers } from './memory/drivers.js'
import { closeConnection, connect, createBlockingConnectionOptions, createCommandConnection, logConnectionErrors } from './redis/connections.js'
import { bullPrefix, createBullQueue, startBullWorker } from './redis/job-queue.js'
import { createRedisLoginBus } from './redis/login-bus.js'
import { createRedisLoginStore } from './redis/login-store.js'
import { createRedisTokenCache } from './redis/token-cache.js'
import { createRedisOAuthStateStore } from './redis/oauth-state-store.js'
import { createRedisUserTokenStore } from './redis/oauth-user-token-store.js'
import type { OAuthStateStore } from '../oauth/state-store.js'
import type { UserTokenStore } from '../oauth/user-token-store.js'
import { Redis } from 'ioredis'

/**
 * Everything with state, behind small interfaces. Chosen here, once, at boot: routes and the
 * worker never know which driver runs.
 */
export interface Drivers {
  mode: 'redis' | 'embedded'
  /** @fastify/rate-limit's store: counters in Redis shared by every instance, or in this process. */
  rateLimitRedis: Redis | undefined
  store: LoginStore
  bus: LoginBus
  tokenCache: TokenCache
  signatures: SignatureLedger
  scanQueue: JobQueue<ScanJob>
  /** OAuth states from authorize to callback. */
  oauthStateStore: OAuthStateStore
  /** Users' OAuth tokens, sealed by the caller. */
  userTokenStore: UserTokenStore
  startScanWorker (processor: JobProcessor<ScanJob>, options: { concurrency: number, log: Log }): JobWorker
  /** Resolves once every connection is ready; boot waits for it. */
  ready (): Promise<void>
  /** false while the backing store cannot answer: readiness reports 503. */
  healthy (): Promise<boolean>
  close (): Promise<void>
}

/** Without a log (tools, tests) connection errors are dropped rather than printed to the console. */
const silent: Log = { fatal () {}, error () {}, warn () {}, info () {}, debug () {} }

export function createDrivers (config: Config, log: Log = silent): Drivers {
  if (config.REDIS_URL === undefined) return createEmbeddedDrivers()
  return createRedisDrivers(config.REDIS_URL, config, log)
}

function createRedisDrivers (url: string, config: Config, log: Log): Drivers {
  const prefix = config.REDIS_PREFIX
  const commands = createCommandConnection(url, 'wql-commands')
  const subscriber = createCommandConnection(url, 'wql-subscriber')
  // The token cache's own subscriber: one fixed channel, independent of the login bus's per-scene ones.
  const tokenSubscriber = createCommandConnection(url, 'wql-token-subscriber')
  for (const connection of [commands, subscriber, tokenSubscriber]) logConnectionErrors(connection, log)
  const tokenCache = createRedisTokenCache(commands, tokenSubscriber, prefix, config.WECHAT_APP_ID)
  const bull = { prefix: bullPrefix(prefix), connection: commands }
  const scanQueue = createBullQueue<ScanJob>(WECHAT_EVENTS_QUEUE, SCAN_JOB, { ...bull, log })
  const workerConnections: Redis[] = []
  const workers: JobWorker[] = []
  let closed: Promise<void> | null = null

  return {
    mode: 'redis',
    rateLimitRedis: commands,
    store: createRedisLoginStore(commands, prefix),
    bus: createRedisLoginBus(commands, subscriber, prefix),
    signatures: createRedisSignatureLedger(commands, prefix),
    tokenCache,
    scanQueue,
    oauthStateStore: createRedisOAuthStateStore(commands, prefix),
    userTokenStore: createRedisUserTokenStore(commands, prefix),

    startScanWorker (processor, { concurrency, log }) {
      const connection = new Redis(url, { ...createBlockingConnectionOptions(), connectionName: 'wql-worker' })
      logConnectionErrors(connection, log)
      workerConnections.push(connection)
      const worker = startBullWorker(WECHAT_EVENTS_QUEUE, processor, { ...bull, connection, concurrency, log })
      workers.push(worker)
      return worker
    },

    async ready () {
      await Promise.all([connect(commands), connect(subscriber), connect(tokenSubscriber)])
      await tokenCache.subscribe()
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
      // Worker first (it may still finish a job), then the queue, then the connections under them.
      closed ??= (async () => {
        await Promise.all(workers.map((worker) => worker.close()))
        await scanQueue.close()
        await Promise.all([commands, subscriber, tokenSubscriber, ...workerConnections].map(closeConnection))
      })()
      return closed
    }
  }
}
