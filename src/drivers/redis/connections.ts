import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { Log } from '../../log.js'

/** A connection to the drivers' Redis: one server, or a whole cluster behind one client. */
export type RedisClient = Redis | Cluster

/**
 * Where the drivers' Redis is: one server (REDIS_URL), or the masters of a Redis Cluster
 * (REDIS_CLUSTER_NODES; one reachable is enough to find the others).
 */
export type RedisTarget =
  | { layout: 'single', url: string }
  /** `credentials`: what every node's AUTH takes (a single Redis has them in its URL). `tls`: every node over TLS (rediss:// for one Redis). */
  | { layout: 'cluster', nodes: ClusterNode[], credentials?: { username?: string, password?: string }, tls?: boolean }

/** A command Redis has not answered in this long fails, so the webhook can still keep the scan on disk within WeChat's 5 s. */
export const COMMAND_TIMEOUT_MS = 2000
const CONNECT_TIMEOUT_MS = 3000
/** While Redis is down ioredis reports every failed reconnect: one line per connection per interval. */
const ERROR_LOG_INTERVAL_MS = 10_000

/**
 * Request-path commands fail fast while Redis is down (no offline queue), instead of hanging ~10 s
 * in ioredis' queue: the webhook decides itself how long to hold a push and when to spool it
 * (jobs/scan-intake.ts), and other routes answer 503. On a cluster the offline queue that matters
 * is the cluster client's: off, a command fails at once while no node is reachable (each node's
 * connection keeps its own, which only spans that node's connect).
 */
export function createCommandConnection (target: RedisTarget, name: string): RedisClient {
  const redis = connectTo(target, failFast(name))
  if (redis instanceof Redis) coalesceWrites(redis)
  // A cluster client sends each command on the connection of the node that holds its slot.
  else redis.on('+node', coalesceWrites)
  return redis
}

function failFast (name: string): RedisOptions {
  return {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A partition or failover without a TCP reset would otherwise hang every request until TCP gives up.
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS
  }
}

/**
 * The login bus's subscriber, fail-fast like the commands. On a cluster it subscribes to sharded
 * channels (SSUBSCRIBE, Redis 7): ioredis keeps one subscriber connection per master that holds a
 * watched login, and a publish goes to that master alone instead of being broadcast to every node.
 */
export function createSubscriberConnection (target: RedisTarget, name: string): RedisClient {
  return connectTo(target, failFast(name), { shardedSubscribers: true })
}

/** BullMQ workers block on Redis and must never give up a command (BullMQ's own requirement). */
export function createBlockingConnection (target: RedisTarget, name: string): RedisClient {
  return connectTo(target, { connectionName: name, maxRetriesPerRequest: null })
}

/**
 * Lazily: nothing connects before the drivers are made ready. `options` are each Redis
 * connection's; on a cluster the offline queue setting is the cluster client's.
 */
function connectTo (target: RedisTarget, options: RedisOptions, clusterOptions: ClusterOptions = {}): RedisClient {
  if (target.layout === 'single') return new Redis(target.url, { ...options, lazyConnect: true, retryStrategy: reconnectBackoff })
  const { enableOfflineQueue, ...nodeOptions } = options
  return new Cluster(target.nodes, {
    ...clusterOptions,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    lazyConnect: true,
    // The whole cluster out of reach: try again as one Redis would. A single lost node is found
    // again through the others (ioredis refreshes its slot map), not by reconnecting to it.
    clusterRetryStrategy: reconnectBackoff,
    // The nodes the cluster announces are reached as they are named there: the certificate's
    // names must cover them (Node checks each against the host it connects to).
    redisOptions: { ...nodeOptions, ...target.credentials, ...(target.tls === true ? { tls: {} } : {}) }
  })
}

/** Bounded exponential backoff: 50 ms doubling to 2 s, forever (a restarting Redis comes back). */
export function reconnectBackoff (attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000)
}

export async function connect (redis: RedisClient): Promise<void> {
  if (redis.status === 'wait') await redis.connect()
  else if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve)
      redis.once('end', () => reject(new Error('Redis connection ended')))
    })
  }
}

/**
 * Connection errors go to our log (structured, redacted), not to ioredis' console fallback, and at
 * most once per interval per connection while Redis stays down. A cluster client reports a lost
 * node as 'node error', and 'error' only once every node is out of reach or a subscriber fails.
 */
export function logConnectionErrors (redis: RedisClient, log: Log): void {
  const connection = redis instanceof Cluster ? redis.options.redisOptions?.connectionName : redis.options.connectionName
  let lastLogged = 0
  const report = (error: Error) => {
    const now = Date.now()
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) return
    lastLogged = now
    log.error({ connection, err: error }, 'Redis connection error')
  }
  redis.on('error', report)
  if (redis instanceof Cluster) redis.on('node error', report)
}

/**
 * quit() when connected, resolving once the socket is closed (quit() itself resolves on Redis' OK,
 * before that); disconnect() otherwise, which stops any pending reconnect. Harmless twice.
 */
export async function closeConnection (redis: RedisClient): Promise<void> {
  await endConnection(redis)
  if (redis instanceof Cluster) {
    // BullMQ marks a cluster client it closed 'end' itself, before ioredis has ended its sockets, and
    // a slot-map refresh under way may still add a node: whatever the status says, every node's
    // connection is ended here, or a late one would keep the process alive.
    for (const node of redis.nodes('all')) node.disconnect()
  }
}

async function endConnection (redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return
  if (redis.status !== 'ready') {
    redis.disconnect()
    return
  }
  const ended = new Promise((resolve) => redis.once('end', resolve))
  await redis.quit().catch(() => redis.disconnect())
  await ended
}

/**
 * Under load, many pushes issue their commands in one turn of the event loop, and each command
 * would be a write(2) of its own: on a virtual machine the system call costs more than building
 * the command. Corked until the loop's check phase, they leave in one writev, and Redis reads and
 * answers them in one go. ioredis' own auto-pipelining batches the same way but builds a Pipeline
 * per batch, copying every defined script (BullMQ's dozens) onto it: measured slower here.
 * A command waits at most for the rest of the current turn; nothing waits for a timer.
 */
export function coalesceWrites (redis: Redis): void {
  redis.on('connect', () => {
    const stream = redis.stream
    const write = stream.write
    let corked = false
    const uncork = (): void => {
      corked = false
      stream.uncork()
    }
    stream.write = function (this: typeof stream, ...args: Parameters<typeof write>) {
      if (!corked) {
        corked = true
        stream.cork()
        setImmediate(uncork)
      }
      return write.apply(this, args)
    } as typeof write
  })
}
