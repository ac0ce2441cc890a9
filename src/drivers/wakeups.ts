/**
 * Callers waiting for "something changed" (TokenCache.waitForUpdate): all woken together, each
 * with its own timeout and abort signal. Shared by the Redis and in-process token caches.
 */
export function createWakeups () {
  const waiters = new Set<() => void>()
  return {
    wakeAll (): void {
      for (const wake of [...waiters]) wake()
    },

    /** true when woken, false at the timeout or on abort. */
    wait (timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
      return new Promise((resolve) => {
        if (signal?.aborted === true) { resolve(false); return }
        const finish = (updated: boolean) => {
          clearTimeout(timer)
          waiters.delete(wake)
          signal?.removeEventListener('abort', abort)
          resolve(updated)
        }
        const wake = () => finish(true)
        const abort = () => finish(false)
        const timer = setTimeout(abort, timeoutMs)
        waiters.add(wake)
        signal?.addEventListener('abort', abort, { once: true })
      })
    }
  }
}
