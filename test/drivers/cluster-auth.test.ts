/**
 * A Redis Cluster that asks for a password (as a managed one does): every connection of the
 * drivers (commands, the sharded subscriber, BullMQ's) authenticates with REDIS_CLUSTER_PASSWORD,
 * and a wrong password fails the boot without the password in the error.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { createDrivers } from '../../src/drivers/index.js'
import type { ScanJob } from '../../src/jobs/definitions.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { deferred } from '../helpers/wait.js'
import { captureLog } from './matrix.js'

const PASSWORD = `pw-${randomBytes(12).toString('hex')}`
const ENV = {
  WECHAT_APP_ID: 'wxclusterauth0001',
  WECHAT_APP_SECRET: 'test-app-secret-cluster-auth',
  WECHAT_TOKEN: 'clusterauthtoken',
  API_KEY: 'test-api-key-cluster-auth-0123',
  REDIS_PREFIX: `wqltest:cluster-auth:${randomBytes(4).toString('hex')}:`
}

t.test('REDIS_CLUSTER_USERNAME and REDIS_CLUSTER_PASSWORD are for a cluster only', async (t) => {
  t.throws(() => loadConfig({ ...ENV, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_PASSWORD: 'x' }), ConfigError)
  t.throws(() => loadConfig({ ...ENV, REDIS_CLUSTER_USERNAME: 'wql' }), /REDIS_CLUSTER_USERNAME is set without REDIS_CLUSTER_NODES/)
})

t.test('a cluster with a password: every connection authenticates; a wrong one fails the boot and is never printed', async (t) => {
  const cluster = await startRedisCluster({ password: PASSWORD })
  t.after(() => cluster.close())

  const drivers = createDrivers(loadConfig({ ...ENV, REDIS_CLUSTER_NODES: cluster.nodes, REDIS_CLUSTER_PASSWORD: PASSWORD }))
  t.after(() => drivers.close())
  await drivers.ready()
  t.equal(await drivers.healthy(), true, 'commands authenticated')

  const scene = randomBytes(24).toString('base64url')
  const heard = deferred<number | undefined>()
  await drivers.loginBus.subscribe(scene, (receivedAt) => heard.resolve(receivedAt))
  await drivers.loginBus.publish(scene, 1234)
  t.equal(await heard.promise, 1234, 'the sharded subscriber authenticated')

  const processed = deferred<ScanJob>()
  drivers.startScanWorker(async (job) => { processed.resolve(job) }, { concurrency: 1, log: captureLog() })
  const job: ScanJob = { scene, openid: 'o-cluster-auth', event: 'SCAN', createTime: String(Date.now()) }
  t.equal(await drivers.scanQueue.enqueue(job, job.openid), 'queued')
  t.equal((await processed.promise).scene, scene, 'BullMQ\'s queue and worker authenticated')

  const refused = createDrivers(loadConfig({ ...ENV, REDIS_CLUSTER_NODES: cluster.nodes, REDIS_CLUSTER_PASSWORD: 'not-the-password' }))
  t.after(() => refused.close())
  const failure = await refused.ready().then(() => null, (error: unknown) => error)
  t.type(failure, Error, 'a wrong password fails the boot')
  t.notMatch(String((failure as Error).message), /not-the-password/, 'without the password in the error')
})
