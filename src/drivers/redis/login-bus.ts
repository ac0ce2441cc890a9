import type { Redis } from 'ioredis'
import type { BusListener, LoginBus } from '../../login/bus.js'

interface Channel {
  listeners: Set<BusListener>
  subscribed: Promise<unknown>
}

/** The message of a change without a known scan time (also what instances before scan times sent). */
const NO_SCAN_TIME = '1'

/**
 * One Redis subscription per scene per instance, however many sockets watch it; dropped when the
 * last listener leaves (one closing socket must not unsubscribe the others). A message is "1" or the
 * scan's receive time in epoch ms.
 */
export function createRedisLoginBus (publisher: Redis, subscriber: Redis, channelName: (scene: string) => string, onResubscribed?: () => void): LoginBus {
  const channels = new Map<string, Channel>()
  /** Left while the connection was down: ioredis will resubscribe them on reconnect unless told not to. */
  const dropWhenBack = new Set<string>()
  let connectedOnce = subscriber.status === 'ready'

  subscriber.on('message', (channel: string, message: string) => {
    const scanReceivedAt = message === NO_SCAN_TIME ? undefined : Number(message)
    for (const listener of channels.get(channel)?.listeners ?? []) listener(Number.isFinite(scanReceivedAt) ? scanReceivedAt : undefined)
  })
  // Pub/sub is at most once: after a reconnect every watcher looks again, but only once the channels
  // are subscribed again (ioredis emits 'ready' before it resubscribes), or a change could fall between.
  subscriber.on('ready', () => {
    if (!connectedOnce) { connectedOnce = true; return }
    resubscribed().catch(() => {
      // The connection dropped again; the next 'ready' repeats this.
    })
  })

  async function resubscribed (): Promise<void> {
    const stale = [...dropWhenBack].filter((name) => !channels.has(name))
    dropWhenBack.clear()
    if (stale.length > 0) await subscriber.unsubscribe(...stale)
    const live = [...channels.keys()]
    if (live.length > 0) await subscriber.subscribe(...live)
    for (const name of live) for (const listener of channels.get(name)?.listeners ?? []) listener()
    onResubscribed?.()
  }

  return {
    async publish (scene, scanReceivedAt) {
      await publisher.publish(channelName(scene), scanReceivedAt === undefined ? NO_SCAN_TIME : String(scanReceivedAt))
    },

    async subscribe (scene, listener) {
      const name = channelName(scene)
      let channel = channels.get(name)
      if (channel === undefined) {
        const created: Channel = { listeners: new Set(), subscribed: subscriber.subscribe(name) }
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
          await subscriber.unsubscribe(name)
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
