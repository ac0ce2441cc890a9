import t, { type Test } from 'tap'
import type { CachedToken, TokenCache } from '../../src/wechat/access-token.js'
import { driverMatrix, type DriverCase } from './matrix.js'
import { waitFor } from '../helpers/wait.js'

function entry (token: string, lifeMs = 60_000): CachedToken {
  const expiresAt = Date.now() + lifeMs
  return { token, expiresAt, refreshAt: expiresAt - Math.floor(lifeMs / 10) }
}

/** Polls until the lock is free again (TTL expiry, which nothing announces) and takes it. */
async function acquireOnceFree (tokenCache: TokenCache, ttlMs: number): Promise<string> {
  let fence: string | null = null
  await waitFor(async () => (fence = await tokenCache.acquireRefreshLock(ttlMs)) !== null)
  return fence as unknown as string
}

function tokenCacheContract (t: Test, driver: DriverCase): void {
  t.test('empty, then what was set, then what replaced it', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    t.equal(await tokenCache.get(), null)
    const first = entry('token-one')
    await tokenCache.set(first)
    t.strictSame(await tokenCache.get(), first)
    const second = entry('token-two', 120_000)
    await tokenCache.set(second)
    t.strictSame(await tokenCache.get(), second)
  })

  t.test('an entry already expired is not stored', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    await tokenCache.set(entry('stale', -1))
    t.equal(await tokenCache.get(), null)
    const fence = await tokenCache.acquireRefreshLock(10_000)
    t.equal(await tokenCache.setIfFenced(entry('stale', -1), fence!), false, 'not through setIfFenced either')
    t.equal(await tokenCache.get(), null)
  })

  t.test('an entry is gone at its expiresAt', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    await tokenCache.set(entry('short-lived', 300))
    t.equal((await tokenCache.get())?.token, 'short-lived')
    await t.resolves(waitFor(async () => await tokenCache.get() === null), 'gone once its expiresAt has passed')
  })

  t.test('one refresh lock holder at a time; every fence higher than the one before', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    const first = await tokenCache.acquireRefreshLock(10_000)
    t.type(first, 'string')
    t.equal(await tokenCache.acquireRefreshLock(10_000), null, 'held: nobody else gets it')
    await tokenCache.releaseRefreshLock('999999')
    t.equal(await tokenCache.acquireRefreshLock(10_000), null, 'a release with another fence does nothing')
    await tokenCache.releaseRefreshLock(first!)
    const second = await tokenCache.acquireRefreshLock(10_000)
    t.type(second, 'string', 'released: free again')
    t.ok(Number(second) > Number(first), `fence ${second} > ${first}`)
    await tokenCache.releaseRefreshLock(first!)
    t.equal(await tokenCache.acquireRefreshLock(10_000), null, 'an old holder cannot release the new holder\'s lock')
  })

  t.test('a holder that dies blocks the others no longer than the lock TTL', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    const dead = await tokenCache.acquireRefreshLock(200)
    t.equal(await tokenCache.acquireRefreshLock(10_000), null)
    const next = await acquireOnceFree(tokenCache, 10_000)
    t.ok(Number(next) > Number(dead), 'the next holder has a higher fence')
  })

  t.test('setIfFenced: only the holder writes, and a stale holder cannot overwrite a newer token', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    t.equal(await tokenCache.setIfFenced(entry('no-lock'), '1'), false, 'no lock, no write')
    t.equal(await tokenCache.get(), null)

    const stale = await tokenCache.acquireRefreshLock(200)
    const first = entry('first')
    t.equal(await tokenCache.setIfFenced(first, stale!), true, 'the holder writes')
    t.strictSame(await tokenCache.get(), first)

    const fresh = await acquireOnceFree(tokenCache, 10_000)
    const newer = entry('newer')
    t.equal(await tokenCache.setIfFenced(newer, fresh), true)
    t.equal(await tokenCache.setIfFenced(entry('from-the-stale-holder'), stale!), false, 'the stale holder is fenced off')
    t.strictSame(await tokenCache.get(), newer, 'the newer token stays')

    await tokenCache.releaseRefreshLock(fresh)
    t.equal(await tokenCache.setIfFenced(entry('after-release'), fresh), false, 'a released fence writes no more')
    t.strictSame(await tokenCache.get(), newer)
  })

  t.test('waitForUpdate: woken by a stored token and by a released lock; false at its timeout or abort', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    const fence = await tokenCache.acquireRefreshLock(10_000)
    const stored = tokenCache.waitForUpdate(10_000)
    await tokenCache.setIfFenced(entry('announced'), fence!)
    t.equal(await stored, true, 'a stored token wakes the waiter')

    const released = tokenCache.waitForUpdate(10_000)
    await tokenCache.releaseRefreshLock(fence!)
    t.equal(await released, true, 'the end of a refresh wakes the waiter (it may have failed)')

    t.equal(await tokenCache.waitForUpdate(30), false, 'nothing happened: false at the timeout')
    const aborter = new AbortController()
    const aborted = tokenCache.waitForUpdate(10_000, aborter.signal)
    aborter.abort()
    t.equal(await aborted, false, 'aborted: false at once')
    t.equal(await tokenCache.waitForUpdate(10_000, aborter.signal), false, 'already aborted: false')
  })

  t.test('claimForcedRefresh: one claim per window', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    t.equal(await tokenCache.claimForcedRefresh(200), true)
    t.equal(await tokenCache.claimForcedRefresh(200), false, 'within the window: refused')
    await t.resolves(waitFor(() => tokenCache.claimForcedRefresh(200)), 'after the window: granted again')
    t.equal(await tokenCache.claimForcedRefresh(60_000), false)
  })
}

for (const driver of driverMatrix('token-cache')) {
  t.test(`TokenCache contract: ${driver.name}`, async (t) => tokenCacheContract(t, driver))
}
