import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { newState } from '../../src/oauth/state.js'
import type { OAuthStateRecord } from '../../src/oauth/types.js'
import type { Identity } from '../../src/login/types.js'
import { driverMatrix, inspector, type DriverCase } from './matrix.js'
import { waitFor } from '../helpers/wait.js'

const sha = (text: string) => createHash('sha256').update(text).digest('hex')
const browserA = sha('browser A')
const browserB = sha('browser B')

function record (now: number, ttlMs = 60_000, browserHash = browserA): OAuthStateRecord {
  return {
    flow: 'web',
    scope: 'snsapi_login',
    purpose: 'login',
    returnTo: 'https://shop.example.com/back?x=1',
    display: 'popup',
    browserHash,
    createdAt: now,
    expiresAt: now + ttlMs
  }
}

function oauthStateStoreContract (t: Test, driver: DriverCase): void {
  t.test('get returns the record as created, open; null for an unknown state', async (t) => {
    const { drivers: { oauthStateStore: store } } = await driver.create(t)
    const now = Date.now()
    const state = newState()
    await store.create(state, record(now), 60_000)
    t.strictSame(await store.get(state), { record: record(now), status: 'open', codeHash: null, answer: null })
    t.equal(await store.get(newState()), null)
  })

  t.test('claim: one browser, once; a repeat from it is "taken" with the code it claimed with', async (t) => {
    const { drivers: { oauthStateStore: store } } = await driver.create(t)
    const now = Date.now()
    const state = newState()
    await store.create(state, record(now), 60_000)

    t.same(await store.claim(state, browserB, sha('code'), now), { outcome: 'foreign' }, 'another browser learns nothing')
    t.equal((await store.get(state))?.status, 'open', 'and changes nothing')

    const claimed = await store.claim(state, browserA, sha('code'), now + 1)
    t.equal(claimed.outcome, 'claimed')
    t.match(claimed, { stored: { status: 'claimed', codeHash: sha('code'), answer: null, record: record(now) } })
    t.match(await store.claim(state, browserA, sha('other code'), now + 2), { outcome: 'taken', stored: { codeHash: sha('code'), answer: null } })
    t.same(await store.claim(state, browserB, sha('code'), now + 2), { outcome: 'foreign' }, 'a used state is still foreign to others')
    t.same(await store.claim(newState(), browserA, sha('code'), now), { outcome: 'missing' })
  })

  t.test('settle stores the answer; repeats see it; a vanished state cannot be settled', async (t) => {
    const { drivers: { oauthStateStore: store } } = await driver.create(t)
    const now = Date.now()
    const state = newState()
    await store.create(state, record(now), 60_000)
    await store.claim(state, browserA, sha('code'), now)
    t.equal(await store.settle(state, 'v1.sealed-answer'), true)
    t.match(await store.claim(state, browserA, sha('code'), now + 1), { outcome: 'taken', stored: { status: 'settled', answer: 'v1.sealed-answer' } })
    t.equal(await store.settle(newState(), 'v1.x'), false)
    t.equal(await store.get(newState()), null, 'and settling an unknown state created nothing')
  })

  t.test('expiry is decided by the now the caller passes; only an open state expires', async (t) => {
    const { drivers: { oauthStateStore: store } } = await driver.create(t)
    const now = Date.now()
    const open = newState()
    const used = newState()
    await store.create(open, record(now, 1000), 60_000)
    await store.create(used, record(now, 1000), 60_000)
    await store.claim(used, browserA, sha('code'), now + 999)
    t.match(await store.claim(open, browserA, sha('code'), now + 1000), { outcome: 'expired', stored: { status: 'open' } }, 'expiresAt itself is expired')
    t.equal((await store.get(open))?.status, 'open', 'a refused claim changes nothing')
    t.match(await store.claim(used, browserA, sha('code'), now + 5000), { outcome: 'taken' }, 'a claimed state answers its repeats after expiry')
  })

  t.test('20 concurrent claims from one browser: exactly one claims', async (t) => {
    const { drivers: { oauthStateStore: store } } = await driver.create(t)
    const now = Date.now()
    const state = newState()
    await store.create(state, record(now), 60_000)
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claim(state, browserA, sha(`code ${i}`), now)))
    t.equal(outcomes.filter((claim) => claim.outcome === 'claimed').length, 1)
    t.equal(outcomes.filter((claim) => claim.outcome === 'taken').length, 19)
  })

  t.test('a state stays retainMs after expiresAt, then vanishes', async (t) => {
    const { drivers: { oauthStateStore: store } } = await driver.create(t)
    const now = Date.now()
    const state = newState()
    await store.create(state, record(now - 2000, 1000), 1400)
    t.equal((await store.get(state))?.status, 'open')
    await waitFor(async () => await store.get(state) === null)
    t.same(await store.claim(state, browserA, sha('code'), Date.now()), { outcome: 'missing' })
  })

  t.test('the state itself is not the key: a store is looked up by value, never listed by it', async (t) => {
    const { drivers: { oauthStateStore: store }, prefix } = await driver.create(t)
    const state = newState()
    await store.create(state, record(Date.now()), 60_000)
    t.ok(await store.get(state))
    t.equal(await store.get(state.toLowerCase() === state ? state.toUpperCase() : state.toLowerCase()), null, 'states are case-sensitive')
    if (driver.name === 'redis') {
      const redis = await inspector(t)
      const keys = await redis.keys(`${prefix}oauth:*`)
      t.equal(keys.length, 1)
      t.notOk(keys[0]?.includes(state), 'the key is the state\'s hash')
    }
  })
}

function userTokenStoreContract (t: Test, driver: DriverCase): void {
  t.test('put, get, replace, delete; per app and openid', async (t) => {
    const { drivers: { userTokenStore: store } } = await driver.create(t)
    const removeAt = Date.now() + 60_000
    await store.put('wxapp1', 'o-user', 'v1.first', removeAt)
    t.equal(await store.get('wxapp1', 'o-user'), 'v1.first')
    t.equal(await store.get('wxapp2', 'o-user'), null, 'another app')
    t.equal(await store.get('wxapp1', 'o-other'), null, 'another user')
    await store.put('wxapp1', 'o-user', 'v1.second', removeAt)
    t.equal(await store.get('wxapp1', 'o-user'), 'v1.second')
    await store.delete('wxapp1', 'o-user')
    t.equal(await store.get('wxapp1', 'o-user'), null)
    await store.delete('wxapp1', 'o-user')
  })

  t.test('a value is gone at its removeAt', async (t) => {
    const { drivers: { userTokenStore: store } } = await driver.create(t)
    await store.put('wxapp1', 'o-user', 'v1.short', Date.now() + 150)
    t.equal(await store.get('wxapp1', 'o-user'), 'v1.short')
    await waitFor(async () => await store.get('wxapp1', 'o-user') === null)
    await store.put('wxapp1', 'o-user', 'v1.past', Date.now() - 1000)
    t.equal(await store.get('wxapp1', 'o-user'), null, 'a removeAt in the past stores nothing')
  })
}

function issuedCodeContract (t: Test, driver: DriverCase): void {
  t.test('issueCode: a login code with no login record, redeemed once like a scan\'s', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const code = randomBytes(32).toString('base64url')
    const identity: Identity = {
      openid: 'o-oauth',
      unionid: 'u-1',
      scene: null,
      subscribed: null,
      confirmedAt: Date.now(),
      flow: 'web',
      profile: { nickname: '张伟', headimgurl: 'https://example.com/a.png', sex: 0, province: '', city: '', country: '', privilege: [] }
    }
    await store.issueCode(code, identity, 60_000)
    t.strictSame(await store.redeemCode(code), identity)
    t.equal(await store.redeemCode(code), null)
  })

  t.test('issueCode: the code vanishes after its TTL', async (t) => {
    const { drivers: { loginStore: store } } = await driver.create(t)
    const code = randomBytes(32).toString('base64url')
    await store.issueCode(code, { openid: 'o', unionid: null, scene: null, subscribed: null, confirmedAt: 0, flow: 'mp' }, 80)
    // Redeeming is the only way to look at a code, and it consumes it: wait out the TTL instead.
    await delay(150)
    t.equal(await store.redeemCode(code), null)
  })
}

for (const driver of driverMatrix('oauth-stores')) {
  t.test(`OAuthStateStore contract: ${driver.name}`, async (t) => oauthStateStoreContract(t, driver))
  t.test(`UserTokenStore contract: ${driver.name}`, async (t) => userTokenStoreContract(t, driver))
  t.test(`LoginStore.issueCode contract: ${driver.name}`, async (t) => issuedCodeContract(t, driver))
}
