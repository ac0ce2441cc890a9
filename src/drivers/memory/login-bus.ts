import type { BusListener, LoginBus } from '../../login/bus.js'

/**
 * Fan-out inside one process, with the Redis bus' semantics: live as soon as subscribe resolves,
 * each unsubscribe removes only its own listener. Listeners run in a later microtask, as a Redis
 * message would arrive later, so publish never runs socket code re-entrantly.
 */
export function createMemoryLoginBus (): LoginBus {
  const scenes = new Map<string, Set<BusListener>>()

  return {
    async publish (scene, scanReceivedAt) {
      const listeners = scenes.get(scene)
      if (listeners === undefined) return
      for (const listener of listeners) {
        // Checked again at delivery: a listener removed in between is not called (as in Redis).
        queueMicrotask(() => { if (scenes.get(scene)?.has(listener) === true) listener(scanReceivedAt) })
      }
    },

    async subscribe (scene, listener) {
      let listeners = scenes.get(scene)
      if (listeners === undefined) {
        listeners = new Set()
        scenes.set(scene, listeners)
      }
      const joined = listeners
      joined.add(listener)
      return async function unsubscribe () {
        if (!joined.delete(listener) || joined.size > 0) return
        if (scenes.get(scene) === joined) scenes.delete(scene)
      }
    },

    async close () {
      scenes.clear()
    }
  }
}
