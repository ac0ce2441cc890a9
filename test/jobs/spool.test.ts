import { appendFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { openFileSpool } from '../../src/jobs/spool.js'

interface Entry { n: number }
const parse = (value: unknown): Entry | null =>
  typeof value === 'object' && value !== null && typeof (value as Entry).n === 'number' ? { n: (value as Entry).n } : null

async function spoolDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wql-spool-test-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'spool')
}

async function linesOnDisk (dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.spool')).sort()
  const texts = await Promise.all(names.map((name) => readFile(join(dir, name), 'utf8')))
  return texts.join('').split('\n').filter((line) => line !== '')
}

t.test('an entry is on disk when append resolves, private to the service', async (t) => {
  const dir = await spoolDir(t)
  const spool = await openFileSpool({ dir, parse })
  t.after(() => spool.close())
  await spool.append({ n: 1 })
  t.same(await linesOnDisk(dir), ['{"n":1}'])
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'the directory is the service user\'s only')
  const [file] = (await readdir(dir)).filter((name) => name.endsWith('.spool'))
  t.equal((await stat(join(dir, file ?? ''))).mode & 0o777, 0o600, 'and so is the file')
  t.equal(spool.pending(), 1)
})

t.test('drain delivers oldest first and removes what it delivered', async (t) => {
  const dir = await spoolDir(t)
  const spool = await openFileSpool({ dir, parse })
  t.after(() => spool.close())
  for (let n = 1; n <= 5; n++) await spool.append({ n })
  const delivered: number[] = []
  const result = await spool.drain(async (entry) => { delivered.push(entry.n) })
  t.same(delivered, [1, 2, 3, 4, 5])
  t.same(result, { delivered: 5, unreadable: 0, left: 0, failure: undefined })
  t.same(await linesOnDisk(dir), [], 'nothing left on disk')
  t.equal(spool.pending(), 0)
})

t.test('a failed delivery stops the drain; that entry and the rest stay, in order, with later appends after them', async (t) => {
  const dir = await spoolDir(t)
  const spool = await openFileSpool({ dir, parse })
  t.after(() => spool.close())
  for (let n = 1; n <= 4; n++) await spool.append({ n })
  const refused = new Error('Redis away again')
  const first = await spool.drain(async (entry) => { if (entry.n === 3) throw refused })
  t.equal(first.failure, refused)
  t.same({ delivered: first.delivered, left: first.left }, { delivered: 2, left: 2 })
  t.same(await linesOnDisk(dir), ['{"n":3}', '{"n":4}'], 'the delivered entries are gone from disk')
  await spool.append({ n: 5 })
  t.equal(spool.pending(), 3)

  const delivered: number[] = []
  await spool.drain(async (entry) => { delivered.push(entry.n) })
  t.same(delivered, [3, 4, 5], 'the next drain resumes where the last stopped')
})

t.test('a new process drains the files an earlier one left, oldest first, and skips a line cut short', async (t) => {
  const dir = await spoolDir(t)
  const earlier = await openFileSpool({ dir, parse })
  await earlier.append({ n: 1 })
  await earlier.close()
  const later = await openFileSpool({ dir, parse })
  await later.append({ n: 2 })
  await later.close()
  // A crash in the middle of a write: the line was never acknowledged.
  const [lastFile] = (await readdir(dir)).filter((name) => name.endsWith('.spool')).sort().reverse()
  await appendFile(join(dir, lastFile ?? ''), '{"n":')

  const next = await openFileSpool({ dir, parse })
  t.after(() => next.close())
  t.equal(next.pending(), 3, 'counted at open, the cut line included')
  const delivered: number[] = []
  const result = await next.drain(async (entry) => { delivered.push(entry.n) })
  t.same(delivered, [1, 2])
  t.equal(result.unreadable, 1)
  t.equal(next.pending(), 0)
  t.same(await readdir(dir), [], 'every file removed')
})

t.test('appends during a drain are kept for the next one, never lost', async (t) => {
  const dir = await spoolDir(t)
  const spool = await openFileSpool({ dir, parse })
  t.after(() => spool.close())
  await spool.append({ n: 1 })
  const delivered: number[] = []
  await spool.drain(async (entry) => {
    delivered.push(entry.n)
    await spool.append({ n: entry.n + 10 })
  })
  t.same(delivered, [1])
  t.same(await linesOnDisk(dir), ['{"n":11}'])
  await spool.drain(async (entry) => { delivered.push(entry.n) })
  t.same(delivered, [1, 11])
})
