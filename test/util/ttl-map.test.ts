import t from 'tap'
import { createTtlMap } from '../../src/util/ttl-map.js'

t.test('an entry lives exactly its TTL by the map clock', async (t) => {
  let now = 1_000_000
  const map = createTtlMap<string, string>({ clock: () => now })
  map.set('a', 'one', 100)
  now += 99
  t.equal(map.get('a'), 'one')
  t.equal(map.has('a'), true)
  now += 1
  t.equal(map.get('a'), undefined, 'gone at set time + TTL')
  t.equal(map.has('a'), false)
})

t.test('setUntil expires at an instant; set again replaces value and deadline', async (t) => {
  let now = 1_000_000
  const map = createTtlMap<string, number>({ clock: () => now })
  map.setUntil('a', 1, now + 50)
  map.set('a', 2, 500)
  now += 50
  t.equal(map.get('a'), 2, 'the second deadline counts')
  now += 450
  t.equal(map.get('a'), undefined)
})

t.test('take returns a live entry once; delete removes it', async (t) => {
  let now = 1_000_000
  const map = createTtlMap<string, string>({ clock: () => now })
  map.set('a', 'one', 100)
  t.equal(map.take('a'), 'one')
  t.equal(map.take('a'), undefined, 'taken once')
  map.set('b', 'two', 100)
  now += 100
  t.equal(map.take('b'), undefined, 'an expired entry is not taken')
  map.set('c', 'three', 100)
  t.equal(map.delete('c'), true)
  t.equal(map.get('c'), undefined)
})

t.test('a write drops the expired entries in front of it, so memory follows the live ones', async (t) => {
  let now = 1_000_000
  const map = createTtlMap<number, number>({ clock: () => now })
  for (let i = 0; i < 1000; i++) map.set(i, i, 10)
  t.equal(map.size, 1000)
  now += 10
  map.set(-1, -1, 10)
  t.equal(map.size, 1, 'only the live entry is held')
})

t.test('with a sweep interval, expired entries leave without any access', async (t) => {
  let now = 1_000_000
  const map = createTtlMap<string, string>({ clock: () => now, sweepIntervalMs: 5 })
  t.after(() => map.close())
  // The long-lived entry is in front: trimming from the front on a write would stop at it.
  map.set('long', 'kept', 60_000)
  map.set('short', 'swept', 10)
  now += 10
  // Nothing announces a sweep: poll, bounded, so a sweep that never runs fails the test.
  const deadline = Date.now() + 5000
  while (map.size > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(map.size, 1, 'the expired entry was swept')
  t.equal(map.get('long'), 'kept')
})

t.test('close() is harmless twice and leaves the map usable', async (t) => {
  const map = createTtlMap<string, string>({ sweepIntervalMs: 1000 })
  map.close()
  map.close()
  map.set('a', 'one', 1000)
  t.equal(map.get('a'), 'one', 'still usable after close: only the sweep stopped')
})
