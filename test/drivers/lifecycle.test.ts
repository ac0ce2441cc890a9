import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { redisKeyspace, type ConnectionRole } from '../../src/drivers/redis/keys.js'
import type { ScanJob } from '../../src/jobs/definitions.js'
import { deleteKeys, redisUrl, uniquePrefix } from '../helpers/redis.js'
import { deferred, waitFor } from '../helpers/wait.js'
import { requireClusterNodes } from '../helpers/redis-cluster.js'
import { captureLog, clusterMasters, driverMatrix, inspector, type DriverCase, type TestDrivers } from './matrix.js'

const scanJob = (): ScanJob => ({ scene: randomBytes(24).toString('base64url'), openid: `o-${randomBytes(8).toString('hex')}`, event: 'SCAN', createTime: String(Date.now()) })

/** A job processed by a running worker and a login subscribed: every kind of connection is up. */
async function workerAndSubscriberUp (drivers: TestDrivers['drivers']): Promise<void> {
  const processed = deferred()
  drivers.startScanWorker(async () => { processed.resolve() }, { concurrency: 1, log: captureLog() })
  await drivers.loginBus.subscribe(scanJob().scene, () => {})
  const job = scanJob()
  await drivers.scanQueue.enqueue(job, job.openid)
  await processed.promise
}

function lifecycleContract (t: Test, driver: DriverCase): void {
  t.test('ready and healthy', async (t) => {
    const { drivers } = await driver.create(t)
    t.equal(drivers.mode, driver.name === 'embedded' ? 'embedded' : 'redis', 'a cluster is Redis')
    t.equal(await drivers.healthy(), true)
  })

  t.test('close stops the queue under a running worker; a second close is harmless', async (t) => {
    const { drivers } = await driver.create(t)
    await workerAndSubscriberUp(drivers)

    await drivers.close()
    await t.resolves(drivers.close(), 'a second close resolves')
    const late = scanJob()
    await t.rejects(drivers.scanQueue.enqueue(late, late.openid), 'the closed queue takes no job')
  })
}

for (const driver of driverMatrix('lifecycle')) {
  t.test(`Drivers lifecycle: ${driver.name}`, async (t) => lifecycleContract(t, driver))
}

/**
 * The names CLIENT LIST shows with `prefix`: every connection of one deployment, BullMQ's included.
 * On a cluster, of every master; ioredis names its cluster subscribers `ioredis-cluster(…):{name}`.
 */
async function connectionNames (servers: Redis[], prefix: string): Promise<string[]> {
  const lists = await Promise.all(servers.map(async (redis) => await redis.client('LIST') as string))
  return lists.join('\n').split('\n')
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
    .filter((name) => name.includes(prefix))
    .sort()
}

for (const layout of ['redis', 'cluster'] as const) {
  t.test(`Redis drivers (${layout}): close ends every connection they opened, and a second close opens none`, async (t) => {
    const redisCase = driverMatrix('lifecycle-connections').find((candidate) => candidate.name === layout)
    if (redisCase === undefined) throw new Error(`no ${layout} driver in the matrix`)
    const { drivers, prefix } = await redisCase.create(t)
    if (drivers.mode !== 'redis') throw new Error('expected the Redis drivers')
    const servers = layout === 'redis' ? [await inspector(t)] : await clusterMasters(t)

    // A processed job proves the worker's connections are up; a subscription, the login subscriber's.
    await workerAndSubscriberUp(drivers)
    const keys = redisKeyspace(prefix, layout === 'redis' ? 'single' : 'cluster')
    const open = await connectionNames(servers, prefix)
    const roles: ConnectionRole[] = ['commands', 'login-subscriber', 'token-subscriber', 'worker']
    for (const role of roles) t.ok(open.includes(keys.connectionName(role)), `${role} connection listed while open`)
    t.ok(open.some((name) => name.startsWith(`${keys.bullPrefix}:`)), 'BullMQ\'s own worker connection listed while open')
    if (layout === 'cluster') t.ok(open.includes(`ioredis-cluster(ssubscriber):${keys.connectionName('login-subscriber')}`), 'a sharded subscriber listed while open')

    await drivers.close()
    t.equal(drivers.commandConnection().status, 'end', 'the command connection ended, no reconnect pending')
    t.equal(await drivers.healthy(), false, 'closed drivers are not healthy')
    // Redis drops a client a moment after its QUIT is answered: nothing announces it to another client.
    await t.resolves(waitFor(async () => (await connectionNames(servers, prefix)).length === 0), 'none listed after close')

    await drivers.close()
    t.strictSame(await connectionNames(servers, prefix), [], 'a second close opens no connection')
  })
}

t.test('closed drivers let the process exit, even with a retry pending', async (t) => {
  const driversModule = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'drivers', 'index.js')).href
  const configModule = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'config.js')).href
  const script = `
    const { createDrivers } = await import(${JSON.stringify(driversModule)})
    const { loadConfig } = await import(${JSON.stringify(configModule)})
    const drivers = createDrivers(loadConfig({
      WECHAT_APP_ID: 'wxexit', WECHAT_APP_SECRET: 'secret', WECHAT_TOKEN: 'exittoken', API_KEY: 'exit-api-key-0123456789',
      ...JSON.parse(process.env.DRIVERS_ENV)
    }))
    await drivers.ready()
    const noop = () => {}
    const log = { fatal: noop, error: noop, warn: noop, info: noop, debug: noop }
    let failed
    const attempted = new Promise((resolve) => { failed = resolve })
    drivers.startScanWorker(async () => { failed(); throw new Error('retry me') }, { concurrency: 1, log })
    await drivers.scanQueue.enqueue({ scene: 's', openid: 'o', event: 'SCAN', createTime: '1' }, 'k')
    await attempted
    await drivers.loginStore.create({ scene: 's', secretHash: 'h', status: 'pending', createdAt: Date.now(), expiresAt: Date.now() + 60000 }, 60000)
    await drivers.loginBus.subscribe('s', noop)
    await drivers.close()
    console.log('closed ' + drivers.mode)
  `
  const prefix = uniquePrefix('lifecycle-exit')
  t.after(() => Promise.all([deleteKeys(prefix), deleteKeys(prefix, 'cluster')]))
  const cases = { embedded: {}, redis: { REDIS_URL: redisUrl, REDIS_PREFIX: prefix }, cluster: { REDIS_CLUSTER_NODES: requireClusterNodes(), REDIS_PREFIX: prefix } }

  for (const [mode, env] of Object.entries(cases)) {
    await t.test(mode, async (t) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, DRIVERS_ENV: JSON.stringify(env) }
      })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
      // Bounded: a leaked connection or timer would keep the child alive for good.
      const killer = setTimeout(() => child.kill(), 10_000)
      const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null]
      clearTimeout(killer)
      t.equal(output.trim(), `closed ${mode === 'embedded' ? 'embedded' : 'redis'}`)
      t.equal(signal, null, 'exited by itself, not killed')
      t.equal(code, 0)
    })
  }
})
