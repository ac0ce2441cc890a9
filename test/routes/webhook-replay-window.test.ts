/**
 * A push captured inside the timestamp window is of no use: the console's URL-check signature
 * cannot carry a push, and a replayed push finds its dedup key for as long as its timestamp is accepted.
 */
import { Redis } from 'ioredis'
import t from 'tap'
import { createMemoryJobQueue } from '../../src/drivers/memory/job-queue.js'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { DEDUP_TTL_MS, WECHAT_EVENTS_QUEUE, scanDedupKey, scanDedupTtlMs, scanRetryPolicy, type ScanJob } from '../../src/jobs/definitions.js'
import { queuedScanJobs, scanXml, signedQuery } from '../fixtures/webhook.js'
import { DRIVERS, build } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'

const SCENE = 'W'.repeat(32)

for (const driver of DRIVERS) {
  t.test(`${driver}: a URL check's signature cannot be replayed as a push`, async (t) => {
    // Embedded mode always runs its worker; the scene is no login, so its job changes nothing.
    const app = await build(t, { driver, env: driver === 'redis' ? { RUN_WORKER: '0' } : {} })
    // The console's URL check, as it might sit in a proxy's access log (signature, timestamp, nonce, echostr).
    const query = signedQuery({ echostr: 'echo-5561' })
    const check = await fetch(`${app.url}/wechat/webhook?${query}`)
    t.equal(check.status, 200)
    t.equal(await check.text(), 'echo-5561')
    t.equal((await fetch(`${app.url}/wechat/webhook?${query}`)).status, 200, 'the console may check twice')
    const forged = await fetch(`${app.url}/wechat/webhook?${query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: scanXml(SCENE, 'oAttacker') })
    t.equal(forged.status, 401, 'the same signed URL carrying a forged scan')
    t.same(await forged.json(), { error: 'signature_reused' })
    if (driver === 'redis') t.equal((await queuedScanJobs(t, app)).length, 0, 'nothing queued')
  })
}

t.test("a scan's dedup key lives as long as its push's timestamp is accepted", async (t) => {
  t.equal(scanDedupTtlMs(300), 600_000, 'twice the tolerance: the timestamp may be that far either side of our clock')
  t.equal(scanDedupTtlMs(30), DEDUP_TTL_MS, "never shorter than WeChat's own retry span")

  const app = await build(t, { env: { RUN_WORKER: '0' } })
  t.equal(app.config.WECHAT_TIMESTAMP_TOLERANCE_SECONDS, 300)
  const createTime = String(Math.floor(Date.now() / 1000))
  t.equal((await fetch(`${app.url}/wechat/webhook?${signedQuery()}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: scanXml(SCENE, 'oReplay', createTime) })).status, 200)
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  const dedupKey = `${redisKeyspace(app.config.REDIS_PREFIX).bullPrefix}:${WECHAT_EVENTS_QUEUE}:de:${scanDedupKey({ openid: 'oReplay', createTime, event: 'SCAN' })}`
  const ttl = await redis.pttl(dedupKey)
  t.ok(ttl > 590_000 && ttl <= 600_000, `the key lives ${ttl} ms: the replay window of 2 × 300 s, not 120 s`)
})

t.test('in process too: a key is kept for the TTL it was given', async (t) => {
  let now = 1_000_000
  const queue = createMemoryJobQueue<ScanJob>({ retry: scanRetryPolicy(300_000), clock: () => now, dedupTtlMs: scanDedupTtlMs(300) })
  t.after(() => queue.close())
  const job: ScanJob = { scene: SCENE, openid: 'o', event: 'SCAN', createTime: '1' }
  t.equal(await queue.enqueue(job, 'key'), 'queued')
  now += 599_999
  t.equal(await queue.enqueue(job, 'key'), 'duplicate', 'a replay at the end of the window')
  now += 1
  t.equal(await queue.enqueue(job, 'key'), 'queued')
})
