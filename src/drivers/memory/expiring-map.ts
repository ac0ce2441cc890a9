/**
 * A Map whose entries vanish at their removeAt (epoch ms, wall clock like Redis' PEXPIREAT): on
 * read, and in a periodic sweep so memory stays bounded by the live entries. Used by the OAuth
 * drivers; the older in-memory drivers keep their own copies until they are folded in.
 */
export interface ExpiringMap<T> {
  get (key: string): T | undefined
  set (key: string, value: T, removeAt: number): void
  delete (key: string): void
  close (): void
}

const SWEEP_INTERVAL_MS = 30_000

export function createExpiringMap<T> ({ clock = Date.now }: { clock?: () => number } = {}): ExpiringMap<T> {
  const entries = new Map<string, { value: T, removeAt: number }>()
  const sweeper = setInterval(() => {
    const now = clock()
    for (const [key, entry] of entries) if (entry.removeAt <= now) entries.delete(key)
  }, SWEEP_INTERVAL_MS)
  sweeper.unref()

  return {
    get (key) {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (entry.removeAt <= clock()) {
        entries.delete(key)
        return undefined
      }
      return entry.value
    },
    set (key, value, removeAt) {
      // Like PEXPIREAT with a past time: stored and gone at once.
      if (removeAt <= clock()) entries.delete(key)
      else entries.set(key, { value, removeAt })
    },
    delete (key) {
      entries.delete(key)
    },
    close () {
      clearInterval(sweeper)
    }
  }
}
