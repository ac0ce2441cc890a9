import { Agent } from 'undici'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { createDrivers } from '../../src/drivers/index.js'
import { createAccessTokens, type AccessTokens, type TokenCache } from '../../src/wechat/access-token.js'
import { createWeChatHttp } from '../../src/wechat/http.js'
import { stableTokenSource } from '../../src/wechat/token-source.js'
import { TEST_WECHAT, type TestApp } from '../helper.js'
import { cleanupKeys, redisUrl, uniquePrefix } from '../helpers/redis.js'
import { assertNothingSecretLogged, counters, createLoginQr, created, deploymentCache, fire, forceRefreshProbe, inspector, logLines, startInstances, startTokenEmulator, tokenKey } from './token-fixtures.js'

// One token for the deployment: fetched once, replaced once, refreshed ahead once. The failure
// scenarios are in access-token-errors.test.ts, the lock's in access-token-lock.test.ts.

t.test('5 instances × 200 concurrent calls from cold → exactly 1 token fetch', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 5)

  const results = await fire(apps, 200)
  t.equal(created(results), 1000, 'all 1000 calls succeed')
  t.equal(counters(emulator).tokenFetches, 1, 'tokenFetches = 1 for the whole deployment')
  t.equal(counters(emulator).qrCreates, 1000, 'one qrcode/create per call: no token error, no retry')
  t.equal(logLines(apps, 'access token fetched').length, 1, 'one instance fetched (and says so, without the token)')
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('token invalidated behind our back → 1000 calls recover with exactly 1 forced refresh (tokenFetches 1 → 2)', async (t) => {
  // One forced refresh a day (and no 30 s spacing, so the daily limit is what answers): a second
  // force by anybody is refused with 45009.
  const emulator = await startTokenEmulator(t, { forceRefreshLimits: { minIntervalMs: 0, perDay: 1 } })
  const { apps, prefix } = await startInstances(t, emulator, 5)
  const redis = await inspector(t)
  const cache = await deploymentCache(t, prefix)
  t.equal(created(await fire(apps, 1)), 5, 'every instance holds the token')
  t.equal(counters(emulator).tokenFetches, 1)
  const before = await cache.get()

  emulator.emulator.invalidateTokens()
  const results = await fire(apps, 200)
  t.equal(created(results), 1000, 'all 1000 calls recover')
  t.equal(counters(emulator).tokenFetches, 2, 'tokenFetches = 2: one refresh for the whole deployment')
  const calls = counters(emulator).qrCreates - 5
  t.ok(calls >= 1000 && calls <= 2000, `${calls} qrcode/create calls for 1000 requests: each refused at most once, retried once`)
  const after = await cache.get()
  t.not(after?.token, before?.token, 'the shared token was replaced')
  t.match(await forceRefreshProbe(emulator), { errcode: 45009 }, 'the day\'s one forced refresh is spent: ours was forced, once')
  const guard = await redis.pttl(`${tokenKey(prefix)}:forced`)
  t.ok(guard > 0 && guard <= 60_000, `the cluster-wide force guard holds for the minute (${guard} ms left)`)
  t.equal(logLines(apps, '"forced":true').length, 1, 'one forced fetch logged')
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('a second invalidation within the minute → recovered by 1 normal fetch, no second force (tokenFetches 2 → 3)', async (t) => {
  const emulator = await startTokenEmulator(t, { forceRefreshLimits: { minIntervalMs: 0, perDay: 1 } })
  const { apps } = await startInstances(t, emulator, 5)
  t.equal(created(await fire(apps, 1)), 5)

  emulator.emulator.invalidateTokens()
  t.equal(created(await fire(apps, 200)), 1000, 'first invalidation: recovered (forced)')
  t.equal(counters(emulator).tokenFetches, 2)

  emulator.emulator.invalidateTokens()
  t.equal(created(await fire(apps, 200)), 1000, 'second invalidation: recovered too (a force would have met 45009)')
  t.equal(counters(emulator).tokenFetches, 3, 'tokenFetches = 3: one more fetch, in normal mode')
  t.equal(logLines(apps, '"forced":true').length, 1, 'still one forced fetch in all')
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('WeChat keeps refusing the token → each call tried at most twice, then 40001 surfaces (tokenFetches 1 → 2 → 3, no loop)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 1)
  const [app] = apps as [TestApp]
  t.equal((await createLoginQr(app)).status, 201)
  emulator.emulator.faults.inject({ api: 'qrcode/create', errcode: 40001 })

  t.match(await createLoginQr(app), { status: 502, body: { errcode: 40001 } }, 'the second refusal reaches the caller')
  t.equal(counters(emulator).tokenFetches, 2, 'tokenFetches = 2: one forced refresh')
  t.equal(counters(emulator).qrCreates, 3, 'the call was tried twice')

  const results = await fire(apps, 200)
  t.equal(created(results), 0, 'all 200 fail with the refusal')
  t.equal(counters(emulator).tokenFetches, 3, 'tokenFetches = 3: one normal refetch for all 200 (the force guard holds), then no more')
  const calls = counters(emulator).qrCreates - 3
  t.ok(calls >= 200 && calls <= 400, `${calls} qrcode/create calls for 200 requests: each tried at most twice`)
  t.equal((await createLoginQr(app)).status, 502, 'a later call: refused once, surfaced')
  t.equal(counters(emulator).tokenFetches, 3, 'still tokenFetches = 3 within the minute')
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('due for refresh → callers keep the current token while exactly 1 background fetch replaces it (tokenFetches 1 → 2)', async (t) => {
  // One clock for the emulator and the three processes, moved by hand: refresh-ahead without sleeping.
  let offset = 0
  const now = () => Date.now() + offset
  const emulator = await startTokenEmulator(t, { now })
  const prefix = uniquePrefix('access-token-ahead')
  cleanupKeys(t, prefix)
  const processes: Array<{ cache: TokenCache, tokens: AccessTokens }> = []
  for (let i = 0; i < 3; i++) {
    const drivers = createDrivers(loadConfig({ ...TEST_WECHAT, REDIS_URL: redisUrl, REDIS_PREFIX: prefix }))
    t.after(() => drivers.close())
    await drivers.ready()
    const dispatcher = new Agent()
    t.after(() => dispatcher.close())
    const http = createWeChatHttp({ baseUrl: () => emulator.url, timeoutMs: 5000, dispatcher })
    const source = stableTokenSource(http, TEST_WECHAT.WECHAT_APP_ID, TEST_WECHAT.WECHAT_APP_SECRET)
    processes.push({
      cache: drivers.tokenCache,
      tokens: createAccessTokens({ cache: drivers.tokenCache, source, refreshMarginMs: 300_000, lockTtlMs: 10_000, now })
    })
  }
  const everyone = () => Promise.all(processes.flatMap(({ tokens }) => Array.from({ length: 50 }, () => tokens.get())))

  const first = new Set(await everyone())
  t.equal(first.size, 1, 'one token')
  t.equal(counters(emulator).tokenFetches, 1)

  offset += (7200 - 299) * 1000
  // Not the first wake-up: the first fetch's own "released" may still be on its way.
  const stored = tokenReplaced(processes[0]!.cache, first, 10_000)
  t.same(new Set(await everyone()), first, 'with 299 s left, all 150 callers get the current token at once')
  t.equal(await stored, true, 'meanwhile a new token is stored')
  t.equal(counters(emulator).tokenFetches, 2, 'tokenFetches = 2: one background fetch for the three processes')

  const next = new Set(await everyone())
  t.equal(next.size, 1)
  t.notOk(first.has([...next][0]!), 'everyone moved to the new token')
  t.equal(counters(emulator).tokenFetches, 2, 'and nobody fetched again')
})

/** true once the cache holds a token other than `old` ones; false when none is stored within `timeoutMs`. */
async function tokenReplaced (cache: TokenCache, old: ReadonlySet<string>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const stop = new AbortController()
    try {
      // Listening before reading, as the contract asks.
      const woken = cache.waitForUpdate(Math.max(0, deadline - Date.now()), stop.signal)
      const cached = await cache.get()
      if (cached !== null && !old.has(cached.token)) return true
      if (!await woken) return false
    } finally {
      stop.abort()
    }
  }
}
