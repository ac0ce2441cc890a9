import { Cluster } from 'ioredis'
import type { BusListener, LoginBus } from '../../login/bus.js'
import { reconnectBackoff, type RedisClient } from './connections.js'

interface Channel {
  listeners: Set<BusListener>
  subscribed: Promise<unknown>
}

/** The message of a change without a known scan time (also what instances before scan times sent). */
const NO_SCAN_TIME = '1'

/**
 * The pub/sub commands of one layout. One Redis: SUBSCRIBE/PUBLISH, and ioredis resubscribes on
 * its 'ready'. A cluster: sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7), so a publish reaches only
 * the node that owns the channel's slot instead of every node; ioredis keeps one subscriber
 * connection per master and, after it replaced one, emits 'subscribersReady'. A sharded command
 * takes channels of one slot only: one command per channel.
 */
interface PubSub {
  message: 'message' | 'smessage'
  resubscribed: 'ready' | 'subscribersReady'
  subscribe (names: string[]): Promise<unknown>
  unsubscribe (names: string[]): Promise<unknown>
  publish (name: string, message: string): Promise<unknown>
}

function pubSubOf (publisher: RedisClient, subscriber: RedisClient): PubSub {
  if (!(subscriber instanceof Cluster)) {
    return {
      message: 'message',
      resubscribed: 'ready',
      subscribe: (names) => subscriber.subscribe(...names),
      unsubscribe: (names) => subscriber.unsubscribe(...names),
      publish: (name, message) => publisher.publish(name, message)
    }
  }
  return {
    message: 'smessage',
    resubscribed: 'subscribersReady',
    subscribe: (names) => Promise.all(names.map((name) => subscriber.ssubscribe(name))),
    unsubscribe: (names) => Promise.all(names.map((name) => subscriber.sunsubscribe(name))),
    publish: (name, message) => publisher.spublish(name, message)
  }
}

/**
 * One Redis subscription per scene per instance, however many sockets watch it; dropped when the
 * last listener leaves (one closing socket must not unsubscribe the others). A message is "1" or the
 * scan's receive time in epoch ms.
 */
export function createRedisLoginBus (publisher: RedisClient, subscriber: RedisClient, channelName: (scene: string) => string, onResubscribed?: () => void): LoginBus {
  const pubSub = pubSubOf(publisher, subscriber)
  const channels = new Map<string, Channel>()
  /** Left while the connection was down: ioredis will resubscribe them on reconnect unless told not to. */
  const dropWhenBack = new Set<string>()
  let connectedOnce = subscriber.status === 'ready'

  subscriber.on(pubSub.message, (channel: string, message: string) => {
    const scanReceivedAt = message === NO_SCAN_TIME ? undefined : Number(message)
    for (const listener of channels.get(channel)?.listeners ?? []) listener(Number.isFinite(scanReceivedAt) ? scanReceivedAt : undefined)
  })
  // Pub/sub is at most once: after a reconnect every watcher looks again, but only once the channels
  // are subscribed again (ioredis announces the reconnect before its resubscriptions are answered),
  // or a change could fall between. Subscribing again here, on the same connections, is answered
  // after them. (On a cluster 'subscribersReady' also comes at start, before any subscription.)
  subscriber.on(pubSub.resubscribed, () => {
    if (pubSub.resubscribed === 'ready' && !connectedOnce) { connectedOnce = true; return }
    if (channels.size === 0 && dropWhenBack.size === 0 && pubSub.resubscribed === 'subscribersReady') return
    resubscribeUntilDone(0)
  })

  /**
   * One Redis: a failure means the connection dropped again, and its next 'ready' repeats this. A
   * cluster announces its new sharded subscribers before the cluster client itself is ready again
   * (after the whole cluster was out of reach its slot map comes later): the resubscription fails
   * then, and nothing would announce again, leaving the pages unread until their expiry. So on a
   * cluster it is tried again, backing off, until it succeeds or the connection is closed for good.
   */
  function resubscribeUntilDone (attempt: number): void {
    resubscribed().catch(() => {
      if (!(subscriber instanceof Cluster) || subscriber.status === 'end') return
      setTimeout(resubscribeUntilDone, reconnectBackoff(attempt + 3), attempt + 1).unref()
    })
  }

  async function resubscribed (): Promise<void> {
    const stale = [...dropWhenBack].filter((name) => !channels.has(name))
    dropWhenBack.clear()
    if (stale.length > 0) await pubSub.unsubscribe(stale)
    const live = [...channels.keys()]
    if (live.length > 0) await pubSub.subscribe(live)
    for (const name of live) for (const listener of channels.get(name)?.listeners ?? []) listener()
    onResubscribed?.()
  }

  return {
    async publish (scene, scanReceivedAt) {
      await pubSub.publish(channelName(scene), scanReceivedAt === undefined ? NO_SCAN_TIME : String(scanReceivedAt))
    },

    async subscribe (scene, listener) {
      const name = channelName(scene)
      let channel = channels.get(name)
      if (channel === undefined) {
        const created: Channel = { listeners: new Set(), subscribed: pubSub.subscribe([name]) }
        created.subscribed.catch(() => { if (channels.get(name) === created) channels.delete(name) })
        channels.set(name, created)
        channel = created
      }
      const joined = channel
      joined.listeners.add(listener)
      try {
        await joined.subscribed
      } catch (error) {
        joined.listeners.delete(listener)
        throw error
      }
      return async function unsubscribe () {
        if (!joined.listeners.delete(listener) || joined.listeners.size > 0) return
        if (channels.get(name) === joined) channels.delete(name)
        // Redis runs this connection's commands in order: a SUBSCRIBE sent after this one wins.
        if (subscriber.status !== 'ready') {
          dropWhenBack.add(name)
          return
        }
        try {
          await pubSub.unsubscribe([name])
        } catch (error) {
          dropWhenBack.add(name)
          throw error
        }
      }
    },

    async close () {
      channels.clear()
    }
  }
}
