import t from 'tap'
import { scanXml, signedQuery } from '../fixtures/webhook.js'
import { DRIVERS, build, createLogin, exchange, startEmulator, type TestEmulator } from '../helper.js'
import { startRedisProxy } from '../helpers/redis.js'
import { scrape } from '../helpers/metrics.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { waitFor } from '../helpers/wait.js'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'

function follower (emulator: TestEmulator) {
  const user = emulator.emulator.users.find((candidate) => candidate.following)
  if (user === undefined) throw new Error('the emulator has no following test user')
  return user
}

for (const driver of DRIVERS) {
  t.test(`${driver}: a login moves the counters: created, webhook outcomes, confirmed, scan to push, job, WeChat calls, token`, async (t) => {
    const emulator = await startEmulator(t)
    const app = await build(t, { driver, emulator })
    const before = await scrape(app)
    t.equal(before.status, 200)
    t.match(before.text, /^# HELP wql_logins_total /m, 'Prometheus text format')
    t.equal(before.value('wql_logins_total', { status: 'confirmed' }), 0, 'final statuses are there from the start, at 0')
    t.equal(before.value('wql_logins_total', { status: 'expired' }), 0)
    t.ok((before.value('process_resident_memory_bytes') ?? 0) > 0, 'the default process metrics')

    const login = await createLogin(app)
    const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
    t.equal((await socket.next()).status, 'pending')
    t.equal((await scrape(app)).value('wql_login_sockets_open'), 1, 'the open socket is counted')

    const push = await emulator.emulator.scan(login.ticket, follower(emulator).openid)
    t.equal((await emulator.emulator.replay(push)).body, 'success', 'WeChat\'s retry')
    const { message } = await waitForStatus(socket, 'confirmed')
    t.equal((await exchange(app, message.code ?? '')).status, 200)
    const forged = await fetch(`${app.url}/wechat/webhook?${signedQuery({}, 'wrongtoken')}`, {
      method: 'POST', headers: { 'content-type': 'text/xml' }, body: scanXml(login.scene)
    })
    t.equal(forged.status, 401)

    const after = await scrape(app)
    t.equal(after.value('wql_logins_created_total'), 1)
    t.equal(after.value('wql_logins_total', { status: 'confirmed' }), 1)
    t.equal(after.value('wql_logins_total', { status: 'expired' }), 0)
    t.equal(after.value('wql_webhook_requests_total', { outcome: 'queued' }), 1)
    t.equal(after.value('wql_webhook_requests_total', { outcome: 'duplicate' }), 1, 'the retry, recognised')
    t.equal(after.value('wql_webhook_requests_total', { outcome: 'bad_signature' }), 1, 'a refusal under its code')
    t.equal(after.value('wql_scan_to_push_seconds_count', { status: 'confirmed' }), 1, 'the confirmed push was timed from the webhook')
    t.equal(after.value('wql_scan_to_push_seconds_bucket', { status: 'confirmed', le: '+Inf' }), 1, 'in the histogram\'s buckets')
    t.equal(after.value('wql_job_duration_seconds_count', { outcome: 'completed' }), 1, 'one job, one attempt')
    t.equal(after.value('wql_wechat_calls_total', { api: 'qrcode/create', errcode: '0' }), 1)
    t.equal(after.value('wql_wechat_calls_total', { api: 'user/info', errcode: '0' }), 1)
    t.equal(after.value('wql_wechat_token_fetches_total', { source: 'stable', outcome: 'ok' }), 1, 'one token for both calls')
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      t.equal(after.value('wql_queue_jobs', { state }), 0, `no job ${state}`)
    }
  })
}

t.test('expired: counted once, by the socket that watched the QR run out', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator, env: { LOGIN_TTL_SECONDS: '1' } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  t.equal((await socket.next()).status, 'pending')
  t.equal((await socket.next()).status, 'expired')
  const late = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  t.equal((await late.next()).status, 'expired', 'a late reader sees it expired too')
  await late.closed
  const scraped = await scrape(app)
  t.equal(scraped.value('wql_logins_total', { status: 'expired' }), 1, 'once, not per reader')
  t.equal(scraped.value('wql_logins_total', { status: 'confirmed' }), 0)
})

t.test('WeChat calls are counted per attempt, under WeChat\'s errcode', async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  emulator.emulator.faults.errcode('user/info', -1, 1)
  emulator.emulator.faults.errcode('qrcode/create', 45009, 1)
  t.equal((await fetch(`${app.url}/api/login/qr`, { method: 'POST' })).status, 502, 'the quota refusal reaches the page')
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await socket.next()
  await emulator.emulator.scan(login.ticket, follower(emulator).openid)
  await waitForStatus(socket, 'confirmed')
  const scraped = await scrape(app)
  t.equal(scraped.value('wql_wechat_calls_total', { api: 'qrcode/create', errcode: '45009' }), 1)
  t.equal(scraped.value('wql_wechat_calls_total', { api: 'qrcode/create', errcode: '0' }), 1)
  t.equal(scraped.value('wql_wechat_calls_total', { api: 'user/info', errcode: '-1' }), 1, 'WeChat busy, then retried')
  t.equal(scraped.value('wql_wechat_calls_total', { api: 'user/info', errcode: '0' }), 1)
  t.equal(scraped.value('wql_logins_created_total'), 1, 'a login WeChat refused was never created')
})

t.test('METRICS_TOKEN: no answer without it, a wrong one is refused alike, the right one scrapes', async (t) => {
  const app = await build(t, { env: { METRICS_TOKEN } })
  for (const token of [undefined, 'not-the-metrics-token-at-all']) {
    const refused = await scrape(app, token)
    t.equal(refused.status, 401, token === undefined ? 'no token' : 'a wrong token')
    t.same(JSON.parse(refused.text), { error: 'unauthorized' })
    t.notMatch(refused.text, 'wql_', 'no metric in the refusal')
  }
  const response = await fetch(`${app.url}/metrics`)
  t.equal(response.headers.get('www-authenticate'), 'Bearer')
  const scraped = await scrape(app, METRICS_TOKEN)
  t.equal(scraped.status, 200)
  t.equal(scraped.value('wql_webhook_requests_total', { outcome: 'queued' }), 0)
  const refusals = app.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.code === 'unauthorized')
  t.equal(refusals.length, 3, 'each refusal is one log line with its code')
  t.notOk(app.logs.some((line) => line.includes(METRICS_TOKEN)), 'the token is in no log line')
})

t.test('each app counts its own: two instances in one process share no metric', async (t) => {
  const emulator = await startEmulator(t)
  const a = await build(t, { emulator })
  const b = await build(t, { emulator })
  await createLogin(a)
  t.equal((await scrape(a)).value('wql_logins_created_total'), 1)
  t.equal((await scrape(b)).value('wql_logins_created_total'), 0)
})

t.test('Redis away and back: the queue\'s figures vanish meanwhile, the pub/sub reconnect is counted', async (t) => {
  const proxy = await startRedisProxy(t)
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator, env: { REDIS_URL: proxy.url } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, { scene: login.scene, secret: login.secret })
  await socket.next()
  const up = await scrape(app)
  t.equal(up.value('wql_pubsub_resubscribes_total'), 0)
  t.equal(up.value('wql_queue_jobs', { state: 'waiting' }), 0)

  proxy.cut()
  const down = await scrape(app)
  t.equal(down.status, 200, 'the scrape still answers')
  t.equal(down.value('wql_queue_jobs', { state: 'waiting' }), undefined, 'no queue figure rather than a stale one')
  proxy.restore()
  await waitFor(async () => (await scrape(app)).value('wql_pubsub_resubscribes_total') === 1, { what: 'the login bus to resubscribe' })
  const back = await scrape(app)
  t.equal(back.value('wql_queue_jobs', { state: 'waiting' }), 0, 'the queue\'s figures are back')
  t.equal(back.value('wql_login_sockets_open'), 1, 'the socket stayed open')
})
