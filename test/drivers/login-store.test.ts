import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { LoginStore } from '../../src/login/store.js'
import { newLoginCode } from '../../src/login/tokens.js'
import type { Identity, LoginRecord } from '../../src/login/types.js'
import { driverMatrix, type DriverCase } from './matrix.js'
import { waitFor } from '../helpers/wait.js'

const newScene = () => randomBytes(24).toString('base64url')
/** A code for `scene`'s login carries its tag (on a cluster, CONFIRM's two keys must share a slot); without a scene, a code of no login. */
const newCode = (scene?: string) => newLoginCode(scene)

function pending (scene: string, createdAt: number, expiresAt: number): LoginRecord {
  return { scene, secretHash: 'ab'.repeat(32), status: 'pending', createdAt, expiresAt }
}

const SCANNER = 'o-drivers-test'

function identityFor (scene: string, confirmedAt: number, openid = SCANNER): Identity {
  return { openid, unionid: null, scene, subscribed: true, confirmedAt }
}

/** A live login (one minute left, kept an hour), created now. */
async function liveLogin (store: LoginStore, now = Date.now()): Promise<string> {
  const scene = newScene()
  await store.create(pending(scene, now, now + 60_000), 3_600_000)
  return scene
}

function loginStoreContract (t: Test, driver: DriverCase): void {
  t.test('get returns the record as created, null for an unknown scene', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = newScene()
    await store.create(pending(scene, now, now + 60_000), 60_000)
    t.strictSame(await store.get(scene), {
      ...pending(scene, now, now + 60_000),
      requester: undefined,
      scannedAt: undefined,
      scannedBy: undefined,
      code: undefined,
      codeExpiresAt: undefined,
      confirmedAt: undefined,
      deniedAt: undefined
    })
    t.equal(await store.get(newScene()), null)
  })

  t.test('the requester is kept as given, with or without an Origin', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const fromPage = { ...pending(newScene(), now, now + 60_000), requester: { origin: 'https://shop.example.com', userAgent: 'Mozilla/5.0 (X11; Linux x86_64)', ip: '2001:db8::7' } }
    const fromScript = { ...pending(newScene(), now, now + 60_000), requester: { ip: '203.0.113.9' } }
    await store.create(fromPage, 60_000)
    await store.create(fromScript, 60_000)
    t.strictSame((await store.get(fromPage.scene))?.requester, fromPage.requester)
    t.strictSame((await store.get(fromScript.scene))?.requester, { ip: '203.0.113.9' }, 'no origin, no user agent: none made up')
  })

  t.test('discard removes a login', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const scene = await liveLogin(store)
    await store.discard(scene)
    t.equal(await store.get(scene), null)
    await store.discard(scene)
    t.equal(await store.markScanned(scene, Date.now(), SCANNER), 'missing', 'twice is harmless')
  })

  t.test('get hands out a copy: changing it changes nothing stored', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const scene = await liveLogin(store)
    const record = await store.get(scene)
    if (record === null) throw new Error('record missing')
    record.status = 'confirmed'
    t.equal((await store.get(scene))?.status, 'pending')
  })

  t.test('markScanned moves pending to scanned once, and records the first scanner', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = await liveLogin(store, now)
    t.equal(await store.markScanned(scene, now + 1, SCANNER), 'changed')
    t.equal(await store.markScanned(scene, now + 2, SCANNER), 'already_scanned', 'the same person again (a job run twice, a second scan)')
    t.equal(await store.markScanned(scene, now + 3, 'o-second-scanner'), 'another_scanner', 'someone else: the login is not theirs')
    t.match(await store.get(scene), { status: 'scanned', scannedAt: now + 1, scannedBy: SCANNER })
    t.equal(await store.markScanned(newScene(), now, SCANNER), 'missing')
  })

  t.test('the login belongs to its first scanner: nobody else confirms, denies or releases it', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = await liveLogin(store, now)
    t.equal(await store.confirm(scene, identityFor(scene, now), newCode(scene), 60_000, now), 'not_scanned', 'nobody scanned it: no code')
    t.equal(await store.deny(scene, SCANNER, now), 'not_scanned')
    t.equal(await store.markScanned(scene, now, SCANNER), 'changed')
    const stranger = 'o-second-scanner'
    const code = newCode(scene)
    t.equal(await store.confirm(scene, identityFor(scene, now, stranger), code, 60_000, now), 'another_scanner')
    t.equal(await store.redeemCode(code), null, "the stranger's code was never issued")
    t.equal(await store.deny(scene, stranger, now), 'another_scanner')
    t.equal(await store.releaseScan(scene, stranger), 'another_scanner')
    t.match(await store.get(scene), { status: 'scanned', scannedBy: SCANNER }, 'still the first scanner\'s')
    t.equal(await store.releaseScan(scene, SCANNER), 'changed')
    t.match(await store.get(scene), { status: 'pending', scannedBy: undefined, scannedAt: undefined })
    t.equal(await store.markScanned(scene, now, stranger), 'changed', 'released, the QR is open to the next scanner')
  })

  t.test('deny ends a scanned login without a code; it stays denied', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = await liveLogin(store, now)
    t.equal(await store.markScanned(scene, now, SCANNER), 'changed')
    t.equal(await store.deny(scene, SCANNER, now + 1), 'changed')
    t.match(await store.get(scene), { status: 'denied', deniedAt: now + 1, code: undefined })
    t.equal(await store.deny(scene, SCANNER, now + 2), 'already_denied')
    t.equal(await store.confirm(scene, identityFor(scene, now), newCode(scene), 60_000, now + 2), 'already_denied', 'no code after a denial')
    t.equal(await store.markScanned(scene, now + 2, SCANNER), 'already_denied')
    t.equal(await store.releaseScan(scene, SCANNER), 'already_denied')
    t.equal(await store.deny(scene, SCANNER, now + 120_000), 'already_denied', 'denied outlives the QR, as confirmed does')

    const late = await liveLogin(store, now)
    t.equal(await store.markScanned(late, now, SCANNER), 'changed')
    t.equal(await store.deny(late, SCANNER, now + 60_000), 'expired', 'an expired login is not denied')
  })

  t.test('confirm issues one code, only from scanned; the code redeems once', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scanned = await liveLogin(store, now)
    t.equal(await store.markScanned(scanned, now + 1, SCANNER), 'changed')

    const code = newCode(scanned)
    const identity = identityFor(scanned, now + 2)
    t.equal(await store.confirm(scanned, identity, code, 60_000, now + 2), 'changed')
    t.match(await store.get(scanned), { status: 'confirmed', confirmedAt: now + 2, code, codeExpiresAt: now + 2 + 60_000, scannedAt: now + 1 })
    t.equal(await store.confirm(scanned, identity, newCode(scanned), 60_000, now + 3), 'already_confirmed')
    t.equal(await store.markScanned(scanned, now + 3, SCANNER), 'already_confirmed')
    t.equal(await store.deny(scanned, SCANNER, now + 3), 'already_confirmed')
    t.equal((await store.get(scanned))?.code, code, 'a refused confirm leaves the issued code')
    const other = await liveLogin(store, now)
    t.equal(await store.markScanned(other, now + 1, SCANNER), 'changed')
    await t.rejects(store.confirm(other, identityFor(other, now + 2), newCode(scanned), 60_000, now + 2), /carry its login's tag/,
      'a code made for another login is refused on every driver (on a cluster its key would sit in the wrong slot)')
    t.equal((await store.get(other))?.status, 'scanned', 'and nothing was confirmed')

    t.strictSame(await store.redeemCode(code), identity)
    t.equal(await store.redeemCode(code), null, 'a code redeems once')
    t.equal(await store.redeemCode(newCode()), null)

    const unknown = newScene()
    t.equal(await store.confirm(unknown, identityFor(unknown, now), newCode(unknown), 60_000, now), 'missing')
  })

  t.test('expiry is decided by the now the caller passes', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = newScene()
    await store.create(pending(scene, now, now + 1000), 3_600_000)
    t.equal(await store.markScanned(scene, now + 1000, SCANNER), 'expired', 'expiresAt itself is expired')
    t.equal(await store.confirm(scene, identityFor(scene, now), newCode(scene), 60_000, now + 1000), 'expired')
    t.equal((await store.get(scene))?.status, 'pending', 'a refused transition changes nothing')
    t.equal(await store.markScanned(scene, now + 999, SCANNER), 'changed')
    t.equal(await store.markScanned(scene, now + 5000, SCANNER), 'expired', 'expired wins over already_scanned')
    t.equal(await store.markScanned(scene, now + 5000, 'o-second-scanner'), 'expired', 'and over another_scanner')
    t.equal(await store.confirm(scene, identityFor(scene, now), newCode(scene), 60_000, now + 1000), 'expired')
    t.equal(await store.confirm(scene, identityFor(scene, now), newCode(scene), 60_000, now + 999), 'changed')
    t.equal(await store.markScanned(scene, now + 5000, SCANNER), 'already_confirmed', 'confirmed stays confirmed after expiry')
    t.equal(await store.confirm(scene, identityFor(scene, now), newCode(scene), 60_000, now + 5000), 'already_confirmed')
  })

  t.test('20 concurrent confirms: exactly one changes the login, exactly one code redeems', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = await liveLogin(store, now)

    const scanners = Array.from({ length: 20 }, (_, i) => `o-scanner-${i}`)
    const scans = await Promise.all(scanners.map((openid) => store.markScanned(scene, now + 1, openid)))
    t.equal(scans.filter((result) => result === 'changed').length, 1, 'twenty people scan at once: one is first')
    t.equal(scans.filter((result) => result === 'another_scanner').length, 19)
    const first = scanners[scans.indexOf('changed')] ?? ''

    const codes = Array.from({ length: 20 }, () => newCode(scene))
    const results = await Promise.all(codes.map((code, i) => store.confirm(scene, identityFor(scene, now + i, first), code, 60_000, now + 2)))
    t.equal(results.filter((result) => result === 'changed').length, 1)
    t.equal(results.filter((result) => result === 'already_confirmed').length, 19)
    const winner = codes[results.indexOf('changed')]
    t.equal((await store.get(scene))?.code, winner, 'the record holds the winning code')

    const redeemed = await Promise.all([...codes, ...codes].map((code) => store.redeemCode(code)))
    const identities = redeemed.filter((identity) => identity !== null)
    t.equal(identities.length, 1, 'one redeemable code, redeemed once even when raced')
    t.equal(identities[0]?.confirmedAt, now + results.indexOf('changed'))
  })

  t.test('a code vanishes after its TTL', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = await liveLogin(store, now)
    const code = newCode(scene)
    t.equal(await store.markScanned(scene, now, SCANNER), 'changed')
    t.equal(await store.confirm(scene, identityFor(scene, now), code, 80, now), 'changed')
    // Redeeming is the only way to look at a code, and it consumes it: wait out the TTL instead.
    await delay(150)
    t.equal(await store.redeemCode(code), null)
    t.equal((await store.get(scene))?.status, 'confirmed', 'the record outlives its code')
  })

  t.test('a record stays retainMs after expiresAt, readable as expired, then vanishes', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = newScene()
    // Expired a second ago, removed 400 ms from now.
    await store.create(pending(scene, now - 2000, now - 1000), 1400)
    t.equal((await store.get(scene))?.status, 'pending')
    t.equal(await store.markScanned(scene, Date.now(), SCANNER), 'expired')
    await waitFor(async () => await store.get(scene) === null)
    t.equal(await store.markScanned(scene, Date.now(), SCANNER), 'missing')
    t.equal(await store.confirm(scene, identityFor(scene, now), newCode(scene), 60_000, Date.now()), 'missing')
  })

  t.test('restore puts back a lost login, never over one that exists, with the same lifetime', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const lost = pending(newScene(), now, now + 60_000)
    t.equal(await store.restore(lost, 60_000), true, 'absent: put back')
    t.match(await store.get(lost.scene), { status: 'pending', secretHash: lost.secretHash, expiresAt: lost.expiresAt })
    t.equal(await store.markScanned(lost.scene, now + 1, SCANNER), 'changed', 'and it works as any login')
    t.equal(await store.restore(lost, 60_000), false, 'present: untouched')
    t.equal((await store.get(lost.scene))?.status, 'scanned', 'the newer state stays')

    const shortLived = pending(newScene(), now - 2000, now - 1000)
    await store.restore(shortLived, 1300)
    await waitFor(async () => await store.get(shortLived.scene) === null, { what: 'the restored login to end with its retention' })
  })

  t.test('a record whose retention already ended is not stored', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const now = Date.now()
    const scene = newScene()
    await store.create(pending(scene, now - 5000, now - 2000), 1000)
    t.equal(await store.get(scene), null)
  })
}

for (const driver of driverMatrix('login-store')) {
  t.test(`LoginStore contract: ${driver.name}`, async (t) => loginStoreContract(t, driver))
}
