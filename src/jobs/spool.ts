import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * An append-only file of entries on local disk, for what must outlive a Redis outage: an entry is
 * on disk (fsynced) when `append` resolves, and leaves the disk only once `drain` has delivered it.
 *
 * One file per process, named so that names sort in the order they were written (start time,
 * then a counter): a process never appends to another's file, and `drain` takes every file in the
 * directory, a previous process' leftovers included, oldest first. A directory belongs to one
 * instance at a time (README: SPOOL_DIR): another live process' file would be drained under it.
 *
 * Lines are JSON. A line cut short by a crash during its write was never acknowledged (its append
 * had not resolved) and is skipped.
 */
export interface Spool<T> {
  /** Resolves once the entry is written and fsynced. */
  append (entry: T): Promise<void>
  /**
   * Hands each kept entry, oldest first, to `deliver`. An entry delivered is removed; the first
   * `deliver` that throws stops the drain (its error is the result's `failure`) and leaves that
   * entry and the rest, in order, for the next. One drain at a time: a call during a drain waits
   * for it, then drains what is left. Only a failing disk rejects.
   */
  drain (deliver: (entry: T) => Promise<void>): Promise<DrainResult>
  /** Entries kept and not yet delivered (leftovers found at open() included). */
  pending (): number
  /** Waits for the append or drain under way; later appends reopen the file. */
  close (): Promise<void>
}

export interface DrainResult {
  delivered: number
  /** Lines that were not an entry (cut short, or not `parse`'s shape): dropped. */
  unreadable: number
  left: number
  /** What `deliver` threw, when it stopped the drain. */
  failure: unknown
}

export interface SpoolOptions<T> {
  dir: string
  /** Checks a line read back from disk; null drops it. */
  parse: (value: unknown) => T | null
}

const SUFFIX = '.spool'

/** Opens the directory (created 0700 when missing) and counts the entries left by earlier processes. */
export async function openFileSpool<T> ({ dir, parse }: SpoolOptions<T>): Promise<Spool<T>> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const processTag = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`
  let fileCount = 0
  let current: { path: string, handle: FileHandle } | null = null
  /** Appends and the rotation before a drain run one at a time. */
  let writing: Promise<unknown> = Promise.resolve()
  let draining: Promise<DrainResult> | null = null
  let pendingCount = 0

  for (const name of await spoolFiles(dir)) pendingCount += (await readLines(join(dir, name))).length

  function serialized<R> (step: () => Promise<R>): Promise<R> {
    const run = writing.then(step, step)
    writing = run.catch(() => {})
    return run
  }

  async function openNextFile (): Promise<{ path: string, handle: FileHandle }> {
    const path = join(dir, `${processTag}-${String(++fileCount).padStart(6, '0')}${SUFFIX}`)
    const handle = await open(path, 'a', 0o600)
    // The new name must survive a crash too: the directory's entry is synced once.
    await syncDirectory(dir)
    return { path, handle }
  }

  /** Later appends go to a new file, so the files a drain reads are complete and no longer written. */
  async function rotate (): Promise<void> {
    const closing = current
    current = null
    await closing?.handle.close()
  }

  async function drainOnce (deliver: (entry: T) => Promise<void>): Promise<DrainResult> {
    await serialized(rotate)
    const result: DrainResult = { delivered: 0, unreadable: 0, left: 0, failure: undefined }
    const files = await spoolFiles(dir)
    for (const name of files) {
      const path = join(dir, name)
      const lines = await readLines(path)
      let done = 0
      try {
        for (const line of lines) {
          const entry = parseLine(line, parse)
          if (entry === null) result.unreadable += 1
          else await deliver(entry)
          if (entry !== null) result.delivered += 1
          done += 1
          pendingCount -= 1
        }
      } catch (error) {
        if (done > 0) await rewrite(path, lines.slice(done))
        result.left = pendingCount
        result.failure = error
        return result
      }
      await unlink(path)
    }
    return result
  }

  return {
    append (entry) {
      const line = `${JSON.stringify(entry)}\n`
      return serialized(async () => {
        current ??= await openNextFile()
        await current.handle.appendFile(line)
        await current.handle.sync()
        pendingCount += 1
      })
    },

    drain (deliver) {
      const previous = draining ?? Promise.resolve()
      const next = previous.catch(() => {}).then(() => drainOnce(deliver))
      draining = next
      const clear = () => { if (draining === next) draining = null }
      next.then(clear, clear)
      return next
    },

    pending () {
      return pendingCount
    },

    async close () {
      await draining?.catch(() => {})
      await serialized(rotate)
    }
  }
}

async function spoolFiles (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith(SUFFIX)).sort()
}

async function readLines (path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return ''
    throw error
  })
  return text.split('\n').filter((line) => line !== '')
}

function parseLine<T> (line: string, parse: (value: unknown) => T | null): T | null {
  try {
    return parse(JSON.parse(line))
  } catch {
    return null
  }
}

/** What is left of a file after a partial drain, replacing it in one rename (never half-written). */
async function rewrite (path: string, lines: string[]): Promise<void> {
  const temporary = `${path}.rewrite`
  const handle = await open(temporary, 'w', 0o600)
  try {
    await handle.writeFile(lines.map((line) => `${line}\n`).join(''))
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, path)
}

async function syncDirectory (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
