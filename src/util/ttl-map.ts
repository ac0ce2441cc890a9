/**
 * A Map whose entries expire, for the in-process stand-ins of Redis keys with a TTL. An expired
 * entry is never returned (checked on read, like Redis' lazy expiry). Memory stays bounded: every
 * write first drops the expired entries at the front (entries are kept in write order, so with one
 * TTL for all of them the front is the oldest), and a map whose TTLs differ can ask for a full
 * sweep on one unref'd timer as well.
 */
export interface TtlMap<K, V> {
  get (key: K): V | undefined
  has (key: K): boolean
  /** Stores `value` for `ttlMs` from now, replacing (and moving to the back) any entry of `key`. */
  set (key: K, value: V, ttlMs: number): void
  /** set() until an instant (by the map's clock) rather than for a duration, like PEXPIREAT. */
  setUntil (key: K, value: V, removeAt: number): void
  /** get() and delete() in one step, like Redis' GETDEL. */
  take (key: K): V | undefined
  delete (key: K): boolean
  /** Entries held, expired ones not yet dropped included: what the map costs in memory. */
  readonly size: number
  /** Stops the sweep timer; the entries go with the process. Harmless twice. */
  close (): void
}

export interface TtlMapOptions {
  /** Epoch ms, the wall clock like Redis' PEXPIREAT; injectable so tests need not wait. */
  clock?: () => number
  /** Sweep every entry this often, for maps whose entries have different TTLs. */
  sweepIntervalMs?: number
}

interface Entry<V> {
  value: V
  /** From this instant (by `clock`) on, the entry no longer exists. */
  removeAt: number
}

export function createTtlMap<K, V> ({ clock = Date.now, sweepIntervalMs }: TtlMapOptions = {}): TtlMap<K, V> {
  const entries = new Map<K, Entry<V>>()

  function live (key: K): Entry<V> | undefined {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.removeAt <= clock()) {
      entries.delete(key)
      return undefined
    }
    return entry
  }

  function dropExpiredFront (now: number): void {
    for (const [key, entry] of entries) {
      if (entry.removeAt > now) return
      entries.delete(key)
    }
  }

  function setUntil (key: K, value: V, removeAt: number): void {
    dropExpiredFront(clock())
    entries.delete(key)
    entries.set(key, { value, removeAt })
  }

  function sweep (): void {
    const now = clock()
    for (const [key, entry] of entries) if (entry.removeAt <= now) entries.delete(key)
  }

  let sweeper: NodeJS.Timeout | undefined
  if (sweepIntervalMs !== undefined) {
    sweeper = setInterval(sweep, sweepIntervalMs)
    sweeper.unref()
  }

  return {
    get (key) {
      return live(key)?.value
    },

    has (key) {
      return live(key) !== undefined
    },

    set (key, value, ttlMs) {
      setUntil(key, value, clock() + ttlMs)
    },

    setUntil,

    take (key) {
      const entry = live(key)
      if (entry === undefined) return undefined
      entries.delete(key)
      return entry.value
    },

    delete (key) {
      return entries.delete(key)
    },

    get size () {
      return entries.size
    },

    close () {
      clearInterval(sweeper)
    }
  }
}
