import t from 'tap'
import { backoffDelay } from '../../src/util/backoff.js'

t.test('backoff: doubles from the base, capped, half of each step jittered', async (t) => {
  t.equal(backoffDelay(0, 100, 2000, () => 0), 50)
  t.equal(backoffDelay(0, 100, 2000, () => 1), 100)
  t.equal(backoffDelay(3, 100, 2000, () => 0), 400)
  t.equal(backoffDelay(3, 100, 2000, () => 1), 800)
  t.equal(backoffDelay(20, 100, 2000, () => 1), 2000, 'never above the cap')
  t.equal(backoffDelay(20, 100, 2000, () => 0), 1000, 'and never below half of it')
})
