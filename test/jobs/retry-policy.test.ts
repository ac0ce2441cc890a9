import t from 'tap'
import { JOB_RETRY_BASE_MS, JOB_RETRY_MAX_MS, scanRetryPolicy } from '../../src/jobs/definitions.js'

/** When each attempt starts, for a job that always fails, until the policy stops it. */
function schedule (loginTtlMs: number, random: () => number): number[] {
  const policy = scanRetryPolicy(loginTtlMs, random)
  const starts = [0]
  for (let attemptsMade = 1; attemptsMade < policy.attempts; attemptsMade++) {
    // Each attempt fails at once: the next starts after the wait.
    const delay = policy.delayMs(attemptsMade, 0, starts.at(-1) ?? 0)
    if (delay === null) return starts
    starts.push((starts.at(-1) ?? 0) + delay)
  }
  throw new Error(`the attempt ceiling (${policy.attempts}) came before the deadline`)
}

t.test('retries start fast and never wait more than JOB_RETRY_MAX_MS', async (t) => {
  for (const random of [() => 0, () => 0.5, () => 1]) {
    const starts = schedule(300_000, random)
    const gaps = starts.slice(1).map((start, i) => start - (starts[i] ?? 0))
    t.ok((gaps[0] ?? Infinity) <= JOB_RETRY_BASE_MS, 'the first retry within the base delay')
    t.ok(gaps.every((gap) => gap <= JOB_RETRY_MAX_MS), 'no gap above the cap')
  }
})

t.test('retries last the login\'s whole lifetime and stop after it', async (t) => {
  for (const loginTtlMs of [1000, 12_000, 300_000, 3_600_000]) {
    // random 0: the shortest waits, the most attempts; the ceiling must still not come first.
    for (const random of [() => 0, () => 1]) {
      const starts = schedule(loginTtlMs, random)
      const last = starts.at(-1) ?? 0
      t.ok(last >= loginTtlMs, `TTL ${loginTtlMs} ms: the last attempt (${last} ms) starts after the login expired, and ends the job`)
      t.ok(last < loginTtlMs + JOB_RETRY_MAX_MS, 'by at most one wait')
      t.ok(starts.slice(0, -1).every((start) => start < loginTtlMs), 'the only one after it')
    }
  }
})

t.test('WeChat failing 30 s inside a 300 s login: the first attempt after it is back comes within JOB_RETRY_MAX_MS', async (t) => {
  const starts = schedule(300_000, Math.random)
  const after = starts.find((start) => start >= 30_000)
  t.ok(after !== undefined && after - 30_000 <= JOB_RETRY_MAX_MS, `an attempt at ${after ?? NaN} ms`)
})

t.test('an attempt that started before the deadline and failed after it is still followed by one', async (t) => {
  const policy = scanRetryPolicy(10_000, () => 0)
  t.type(policy.delayMs(3, 0, 9_999), 'number', 'it ran against a live login: one more, which finds it expired')
  t.equal(policy.delayMs(4, 0, 10_000), null, 'started at the deadline: nothing left to do')
})
