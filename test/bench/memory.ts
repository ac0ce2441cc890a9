import { setTimeout as sleep } from 'node:timers/promises'

export interface MemoryReading {
  /** Resident set size, bytes. */
  rss: number
  heapUsed: number
}

/**
 * The process' memory once garbage is collected (it must run with --expose-gc): three full
 * collections a little apart, so that what a socket keeps is all that is left. Every process the
 * benchmark compares is measured with this same function.
 */
export async function settledMemory (): Promise<MemoryReading> {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('measuring memory needs --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await sleep(200)
  }
  const { rss, heapUsed } = process.memoryUsage()
  return { rss, heapUsed }
}
