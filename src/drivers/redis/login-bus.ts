import type { Redis } from 'ioredis'
import type { BusListener, LoginBus } from '../../login/bus.js'

interface Channel {
  listeners: Set<BusListener>
  subscribed: Promise<unknown>
}

/**
 * One Redis subscription per scene per instance, however many sockets watch it; dropped when the
 * last listener leaves (one closing socket must not unsubscribe the others).
 */
export function createRedisLoginBus (publisher: Redis, subscriber: Redis, prefix: string): LoginBus {
  const channels = new Map<string, Channel>()
  const channelName = (scene: string) => `${prefix}login:${scene}`
  let connectedOnce = subscriber.status === 'ready'

  subscriber.on('message', (channel: string) => {
    for (const listener of channels.get(channel)?.listeners ?? []) listener()
  })
  // Pub/sub is at most once: after a reconnect (ioredis resubscribes) every watcher looks again.
  subscriber.on('ready', () => {
    if (!connectedOnce) { connectedOnce = true; return }
    for (const channel of channels.values()) for (const listener of channel.listeners) listener()
  })

  return {
    async publish (scene) {
      await publisher.publish(channelName(scene), '1')
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
        if (subscriber.status === 'ready') await subscriber.unsubscribe(name)
      }
    },

    async close () {
      channels.clear()
    }
  }
}

