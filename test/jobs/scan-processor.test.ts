import t from 'tap'
import { MISSING_LOGIN_GRACE_MS, createScanProcessor } from '../../src/jobs/scan-processor.js'
import { newLoginCode, newScene, sha256 } from '../../src/login/tokens.js'
import type { LoginStore } from '../../src/login/store.js'
import type { WeChatUser } from '../../src/wechat/client.js'
import { WeChatApiError } from '../../src/wechat/errors.js'
import { PermanentJobError } from '../../src/jobs/definitions.js'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { Redis } from 'ioredis'
import { captureLog, driverMatrix } from '../drivers/matrix.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { deferred, waitFor } from '../helpers/wait.js'

/** WeChat's user/info, as the emulator would answer it; counts its calls. */
function userInfo (answer: (openid: string) => WeChatUser | Error) {
  const calls: string[] = []
  return {
    calls,
    async userInfo (openid: string) {
      calls.push(openid)
      const result = answer(openid)
      if (result instanceof Error) throw result
      return result
    }
  }
}

/** A login waiting for its scan, living a minute from `now`. */
async function pendingLogin (store: LoginStore, now = Date.now()): Promise<string> {
  const scene = newScene()
  await store.create({ scene, secretHash: sha256('secret'), status: 'pending', createdAt: now, expiresAt: now + 60_000 }, 60_000)
  return scene
}

for (const driver of driverMatrix('scan-processor')) {
  // The confirm and its publish leave together: Redis runs them in order only while it knows the
  // confirm's script. When it forgot it, ioredis sends the script again after the publish.
  if (driver.name === 'redis') {
    t.test('redis: Redis forgot the scripts (SCRIPT FLUSH): the page still reads the login confirmed, not scanned for good', async (t) => {
      // A Redis of its own: flushing the suite's scripts would fail other files' transactions.
      const own = await startRedisServer(t)
      const { drivers, prefix } = await driver.create(t, { REDIS_URL: own.url })
      const { loginStore: store, loginBus: bus } = drivers
      if (drivers.mode !== 'redis') throw new Error('needs Redis')
      // The page's instance reads on a connection of its own, as another process would.
      const page = new Redis(own.url)
      t.after(() => page.quit())
      const processScan = createScanProcessor({ store, bus, wechat: userInfo((openid) => ({ openid, unionid: null, subscribed: true })), codeTtlMs: 60_000, log: captureLog() })
      // A first login loads the scripts on the connection; then Redis forgets them.
      await processScan({ scene: await pendingLogin(store), openid: 'oFirst', event: 'SCAN', createTime: '1' }, 1)
      await drivers.commandConnection().script('FLUSH')

      const scene = await pendingLogin(store)
      const read: string[] = []
      // What a page's watch does: on every message, read the login.
      const loginKey = redisKeyspace(prefix, 'single').login(scene)
      await bus.subscribe(scene, () => { page.hget(loginKey, 'status').then((status) => { read.push(status ?? 'missing') }, () => {}) })
      await processScan({ scene, openid: 'oUser', event: 'SCAN', createTime: '1' }, 1)
      await waitFor(() => read.includes('confirmed'), { what: 'a read after a message to find the login confirmed' })
      t.equal((await store.get(scene))?.status, 'confirmed')
    })
  }

  t.test(`${driver.name}: a re-run after a crash between confirming and publishing still tells the page, with the same code`, async (t) => {
    const { drivers: { loginStore: store, loginBus: bus } } = await driver.create(t)
    const now = Date.now()
    const scene = await pendingLogin(store, now)
    // The first run confirmed, then died before its publish.
    await store.markScanned(scene, now, 'oUser')
    const firstCode = newLoginCode(scene)
    await store.confirm(scene, { openid: 'oUser', unionid: null, scene, subscribed: true, confirmedAt: now }, firstCode, 60_000, now)

    let told = 0
    let tell = () => {}
    const toldOnce = new Promise<void>((resolve) => { tell = resolve })
    await bus.subscribe(scene, () => { told++; tell() })
    const wechat = userInfo((openid) => ({ openid, unionid: null, subscribed: true }))
    const processScan = createScanProcessor({ store, bus, wechat, codeTtlMs: 60_000, log: captureLog() })
    await processScan({ scene, openid: 'oUser', event: 'SCAN', createTime: '1' }, 2)
    await toldOnce
    t.equal(told, 1, 'the page was told to look again')
    t.equal((await store.get(scene))?.code, firstCode, 'and still sees the first code')
    t.same(wechat.calls, [], 'no second user/info call')
  })

  t.test(`${driver.name}: a permanent user/info refusal is not retried; a busy WeChat is`, async (t) => {
    const { drivers: { loginStore: store, loginBus: bus } } = await driver.create(t)
    const scene = await pendingLogin(store)
    const job = { scene, openid: 'oForged', event: 'SCAN' as const, createTime: '1' }

    let told = 0
    let toldTwice = () => {}
    const scannedThenReleased = new Promise<void>((resolve) => { toldTwice = resolve })
    await bus.subscribe(scene, () => { if (++told === 2) toldTwice() })
    const refused = createScanProcessor({ store, bus, wechat: userInfo(() => new WeChatApiError('user/info', 40003, 'invalid openid')), codeTtlMs: 60_000, log: captureLog() })
    await t.rejects(refused(job, 1), PermanentJobError)
    t.equal((await store.get(scene))?.status, 'pending', 'a refused scan leaves the QR open again, not "scanned" until expiry')
    t.equal((await store.get(scene))?.scannedAt, undefined)
    await scannedThenReleased
    t.pass('the page was told of "scanned" and of the release')
    const busy = createScanProcessor({ store, bus, wechat: userInfo(() => new WeChatApiError('user/info', -1, 'system busy')), codeTtlMs: 60_000, log: captureLog() })
    await t.rejects(busy(job, 1), WeChatApiError, 'thrown as is: BullMQ retries it with backoff')
    t.equal((await store.get(scene))?.status, 'scanned', 'nothing confirmed on the way')
  })

  t.test(`${driver.name}: two people scan one QR: the login is the first scanner's, whoever's user/info answers first`, async (t) => {
    const { drivers: { loginStore: store, loginBus: bus } } = await driver.create(t)
    const scene = await pendingLogin(store)
    // The first scanner's user/info is slow; the second's would answer at once.
    const firstAnswers = deferred()
    const wechat = {
      calls: [] as string[],
      async userInfo (openid: string): Promise<WeChatUser> {
        wechat.calls.push(openid)
        if (openid === 'oFirst') await firstAnswers.promise
        return { openid, unionid: null, subscribed: true }
      }
    }
    const log = captureLog()
    const processScan = createScanProcessor({ store, bus, wechat, codeTtlMs: 60_000, log })
    const first = processScan({ scene, openid: 'oFirst', event: 'SCAN', createTime: '1' }, 1)
    await t.resolves(processScan({ scene, openid: 'oSecond', event: 'SCAN', createTime: '1' }, 1))
    t.same(wechat.calls, ['oFirst'], 'the second scanner is not even looked up')
    t.equal((await store.get(scene))?.status, 'scanned', 'the second scan confirmed nothing')
    firstAnswers.resolve()
    await first
    const code = (await store.get(scene))?.code ?? ''
    t.match(await store.redeemCode(code), { openid: 'oFirst' }, 'the code is the first scanner\'s')
    t.ok(log.entries.some((entry) => JSON.stringify(entry.args).includes('another_scanner')), 'the ignored scan is logged with why')
  })

  t.test(`${driver.name}: LOGIN_REQUIRE_CONFIRM: a scan stops at "scanned", tells the page, and asks WeChat nothing`, async (t) => {
    const { drivers: { loginStore: store, loginBus: bus } } = await driver.create(t)
    const scene = await pendingLogin(store)
    const told = deferred()
    await bus.subscribe(scene, () => told.resolve())
    const wechat = userInfo((openid) => ({ openid, unionid: null, subscribed: true }))
    const processScan = createScanProcessor({ store, bus, wechat, codeTtlMs: 60_000, requireConfirm: true, log: captureLog() })
    await processScan({ scene, openid: 'oPhone', event: 'SCAN', createTime: '1' }, 1)
    await told.promise
    t.match(await store.get(scene), { status: 'scanned', scannedBy: 'oPhone', code: undefined }, 'scanned by its scanner, no code')
    await processScan({ scene, openid: 'oPhone', event: 'SCAN', createTime: '1' }, 2)
    t.equal((await store.get(scene))?.status, 'scanned', 'a re-run changes nothing')
    t.same(wechat.calls, [], 'the confirmation page learns who the visitor is: no user/info call')
  })
}

for (const driver of driverMatrix('scan-processor-missing')) {
  t.test(`${driver.name}: a scan of a login the store lacks is retried for a while (its instance may be putting it back), then dropped`, async (t) => {
    const { drivers: { loginStore: store, loginBus: bus } } = await driver.create(t)
    const wechat = userInfo((openid) => ({ openid, unionid: null, subscribed: true }))
    const now = Date.now()
    const processScan = createScanProcessor({ store, bus, wechat, codeTtlMs: 60_000, log: captureLog(), now: () => now })
    const job = { scene: newScene(), openid: 'oUser', event: 'SCAN' as const, createTime: '1' }
    await t.rejects(processScan(job, 1, now - 1000), /login not found/, 'just queued: thrown, so the queue retries it')
    await t.resolves(processScan(job, 5, now - MISSING_LOGIN_GRACE_MS), 'queued longer ago than the grace: dropped')
    t.same(wechat.calls, [], 'WeChat never asked')
  })
}
