import t, { type Test } from 'tap'
import { driverMatrix, waitFor, type DriverCase } from './matrix.js'

function tokenCacheContract (t: Test, driver: DriverCase): void {
  t.test('empty, then what was set, then what replaced it', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    t.equal(await tokenCache.get(), null)
    const expiresAt = Date.now() + 60_000
    await tokenCache.set({ token: 'token-one', expiresAt })
    t.strictSame(await tokenCache.get(), { token: 'token-one', expiresAt })
    await tokenCache.set({ token: 'token-two', expiresAt: expiresAt + 1 })
    t.strictSame(await tokenCache.get(), { token: 'token-two', expiresAt: expiresAt + 1 })
  })

  t.test('an entry already expired is not stored', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    await tokenCache.set({ token: 'stale', expiresAt: Date.now() - 1 })
    t.equal(await tokenCache.get(), null)
  })

  t.test('deleteIfEquals deletes only the token it names', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    const expiresAt = Date.now() + 60_000
    await tokenCache.set({ token: 'current', expiresAt })
    await tokenCache.deleteIfEquals('replaced-by-another-instance')
    t.strictSame(await tokenCache.get(), { token: 'current', expiresAt }, 'a newer token survives')
    await tokenCache.deleteIfEquals('current')
    t.equal(await tokenCache.get(), null)
    await tokenCache.deleteIfEquals('current')
    t.equal(await tokenCache.get(), null, 'harmless on an empty cache')
  })

  t.test('an entry is gone at its expiresAt', async (t) => {
    const { drivers: { tokenCache } } = await driver.create(t)
    await tokenCache.set({ token: 'short-lived', expiresAt: Date.now() + 300 })
    t.equal((await tokenCache.get())?.token, 'short-lived')
    await waitFor(async () => await tokenCache.get() === null)
    t.pass('expired')
  })
}

for (const driver of driverMatrix('token-cache')) {
  t.test(`TokenCache contract: ${driver.name}`, async (t) => tokenCacheContract(t, driver))
}
