import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { once } from 'node:events'
import type { Redis } from 'ioredis'
import { redisClusterNodes } from '../../src/config.js'
import { closeConnection, connect, createCommandConnection, createSubscriberConnection } from '../../src/drivers/redis/connections.js'
import { redisKeyspace, type RedisLayout } from '../../src/drivers/redis/keys.js'
import { createRedisLoginBus } from '../../src/drivers/redis/login-bus.js'
import type { LoginBus } from '../../src/login/bus.js'
import { requireClusterNodes } from '../helpers/redis-cluster.js'
import { redisUrl, uniquePrefix } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'
import { clusterMasters, driverMatrix, inspector, type DriverCase } from './matrix.js'

const newScene = () => randomBytes(24).toString('base64url')

interface CountingListener {
  (): void
  count: number
  /** Resolves on the next call. */
  next (): Promise<void>
}

function countingListener (): CountingListener {
  let waiters: Array<() => void> = []
  const listener = Object.assign(() => {
    listener.count++
    const woken = waiters
    waiters = []
    for (const wake of woken) wake()
  }, {
    count: 0,
    next: () => new Promise<void>((resolve) => { waiters.push(resolve) })
  })
  return listener
}

/**
 * After a subscriber connection came back: the watcher was told to look again, its scene is
 * subscribed again, and (the re-read having come after the subscription) a publish is heard.
 */
async function toldAndSubscribedAgain (t: Test, { bus, listener, scene, subscriptions }: {
  bus: LoginBus, listener: CountingListener, scene: string, subscriptions: (scene: string) => Promise<number>
}): Promise<void> {
  t.ok(listener.count >= 1, 'after the reconnect the watcher is told to look again (messages may have been lost)')
  t.equal(await subscriptions(scene), 1, 'the watched scene is subscribed again')
  const heard = listener.next()
  await bus.publish(scene)
  await heard
}

function loginBusContract (t: Test, driver: DriverCase): void {
  t.test('subscribe resolves once live: a publish right after it is received', async (t) => {
    const { drivers: { loginBus: bus } } = await driver.create(t)
    const scene = newScene()
    const listener = countingListener()
    await bus.subscribe(scene, listener)
    const received = listener.next()
    await bus.publish(scene)
    await received
    t.equal(listener.count, 1)
  })

  t.test('a publish may carry the scan\'s receive time: listeners get it, or nothing', async (t) => {
    const { drivers: { loginBus: bus } } = await driver.create(t)
    const scene = newScene()
    const received: Array<number | undefined> = []
    let wake = () => {}
    await bus.subscribe(scene, (scanReceivedAt) => { received.push(scanReceivedAt); wake() })
    for (const scanReceivedAt of [1_717_000_000_123, undefined]) {
      const delivered = new Promise<void>((resolve) => { wake = resolve })
      await bus.publish(scene, scanReceivedAt)
      await delivered
    }
    t.strictSame(received, [1_717_000_000_123, undefined])
  })

  t.test('publish never calls a listener synchronously', async (t) => {
    const { drivers: { loginBus: bus } } = await driver.create(t)
    const scene = newScene()
    const listener = countingListener()
    await bus.subscribe(scene, listener)
    const received = listener.next()
    const published = bus.publish(scene)
    t.equal(listener.count, 0)
    await Promise.all([published, received])
    t.equal(listener.count, 1)
  })

  t.test('every listener of the scene is called, nobody else', async (t) => {
    const { drivers: { loginBus: bus } } = await driver.create(t)
    const [a, b] = [newScene(), newScene()]
    const [first, second, other] = [countingListener(), countingListener(), countingListener()]
    await Promise.all([bus.subscribe(a, first), bus.subscribe(a, second), bus.subscribe(b, other)])

    await Promise.all([first.next(), second.next(), bus.publish(a)])
    // Messages arrive in publish order: had `other` been given a's message, it would count 2 here.
    await Promise.all([other.next(), bus.publish(b)])
    t.equal(other.count, 1)
    await Promise.all([first.next(), bus.publish(a)])
    t.equal(first.count, 2, 'b was not delivered to a listener of a')
    t.equal(second.count, 2)
  })

  t.test('removing one listener leaves the others of the scene receiving', async (t) => {
    const { drivers: { loginBus: bus } } = await driver.create(t)
    const scene = newScene()
    const [leaving, staying] = [countingListener(), countingListener()]
    const unsubscribeLeaving = await bus.subscribe(scene, leaving)
    const unsubscribeStaying = await bus.subscribe(scene, staying)
    await Promise.all([leaving.next(), staying.next(), bus.publish(scene)])

    await unsubscribeLeaving()
    await unsubscribeLeaving()
    await Promise.all([staying.next(), bus.publish(scene)])
    t.equal(staying.count, 2)
    t.equal(leaving.count, 1, 'the removed listener heard nothing more')

    await unsubscribeStaying()
    const again = countingListener()
    await bus.subscribe(scene, again)
    await Promise.all([again.next(), bus.publish(scene)])
    t.equal(again.count, 1, 'subscribing after the last one left works again')
    t.equal(staying.count, 2)
  })

  t.test('publish with nobody listening is harmless: it resolves, and is not kept for a later listener', async (t) => {
    const { drivers: { loginBus: bus } } = await driver.create(t)
    const [scene, barrierScene] = [newScene(), newScene()]
    await t.resolves(bus.publish(scene), 'nobody listening: resolves')
    const [late, barrier] = [countingListener(), countingListener()]
    await Promise.all([bus.subscribe(scene, late), bus.subscribe(barrierScene, barrier)])
    // Messages arrive in publish order: anything handed to `late` on subscribing arrived before this.
    await Promise.all([barrier.next(), bus.publish(barrierScene)])
    t.equal(late.count, 0, 'the message published before anyone listened is not delivered late')
    await Promise.all([late.next(), bus.publish(scene)])
    t.equal(late.count, 1, 'the scene works as usual afterwards')
  })
}

for (const driver of driverMatrix('login-bus')) {
  t.test(`LoginBus contract: ${driver.name}`, async (t) => loginBusContract(t, driver))
}

/**
 * How many subscribers `channel` has: on one Redis, PUBSUB NUMSUB; on a cluster, SHARDNUMSUB summed
 * over the masters (a sharded channel lives on one), so a plain SUBSCRIBE there would count 0.
 */
async function subscribers (servers: Redis[], layout: RedisLayout, channel: string): Promise<number> {
  const counts = await Promise.all(servers.map(async (redis) => {
    const [, count] = await redis.call('PUBSUB', layout === 'single' ? 'NUMSUB' : 'SHARDNUMSUB', channel) as [string, number]
    return Number(count)
  }))
  return counts.reduce((sum, count) => sum + count, 0)
}

for (const layout of ['single', 'cluster'] as const) {
  t.test(`Redis bus (${layout}): one subscription per scene however many listeners, dropped with the last`, async (t) => {
    const redisCase = driverMatrix('login-bus-redis').find((candidate) => candidate.name === (layout === 'single' ? 'redis' : 'cluster'))
    if (redisCase === undefined) throw new Error(`no ${layout} driver in the matrix`)
    const { drivers: { loginBus: bus }, prefix } = await redisCase.create(t)
    const servers = layout === 'single' ? [await inspector(t)] : await clusterMasters(t)
    const [a, b] = [newScene(), newScene()]
    const { loginChannel } = redisKeyspace(prefix, layout)
    const subscriptions = (scene: string) => subscribers(servers, layout, loginChannel(scene))

    // Joined while the first SUBSCRIBE is still in flight, and after it.
    const [leaveA1, leaveA2] = await Promise.all([bus.subscribe(a, () => {}), bus.subscribe(a, () => {})])
    const leaveA3 = await bus.subscribe(a, () => {})
    const leaveB = await bus.subscribe(b, () => {})
    t.equal(await subscriptions(a), 1)
    t.equal(await subscriptions(b), 1)

    await leaveA1()
    await leaveA2()
    t.equal(await subscriptions(a), 1, 'still subscribed for the last listener')
    await leaveA3()
    t.equal(await subscriptions(a), 0, 'dropped with the last listener')
    t.equal(await subscriptions(b), 1, 'other scenes untouched')
    await leaveB()
    t.equal(await subscriptions(b), 0)
  })
}

t.test('redis: a subscriber connection killed mid-login', async (t) => {
  const prefix = uniquePrefix('bus-reconnect')
  const publisher = createCommandConnection({ layout: 'single', url: redisUrl }, 'wql-test-publisher')
  const subscriber = createCommandConnection({ layout: 'single', url: redisUrl }, 'wql-test-subscriber')
  subscriber.on('error', () => {})
  t.after(() => Promise.all([closeConnection(publisher), closeConnection(subscriber)]))
  await Promise.all([connect(publisher), connect(subscriber)])
  const { loginChannel } = redisKeyspace(prefix)
  const bus = createRedisLoginBus(publisher, subscriber, loginChannel)
  const redis = await inspector(t)
  const subscriptions = async (scene: string) => (await redis.call('PUBSUB', 'NUMSUB', loginChannel(scene)) as [string, number])[1]
  /** Kills the subscriber's connection; resolves once the client noticed, with its reconnection. */
  const killSubscriber = async () => {
    const id = await subscriber.client('ID')
    const noticed = once(subscriber, 'close')
    const reconnected = once(subscriber, 'ready')
    await redis.call('CLIENT', 'KILL', 'ID', String(id))
    await noticed
    return { reconnected }
  }

  const kept = newScene()
  const left = newScene()
  const keptListener = countingListener()
  await bus.subscribe(kept, keptListener)
  const removeLeft = await bus.subscribe(left, countingListener())

  const lookAgain = keptListener.next()
  const { reconnected } = await killSubscriber()
  t.not(subscriber.status, 'ready', 'the connection is down')
  // Leaving while the connection is down: ioredis would resubscribe the channel on its own.
  await removeLeft()
  await reconnected
  await lookAgain
  await toldAndSubscribedAgain(t, { bus, listener: keptListener, scene: kept, subscriptions })

  // Whether the scene was left before or after the reconnect, it was unsubscribed before watchers were told.
  t.equal(await subscriptions(left), 0, 'a scene left during the outage holds no subscription afterwards')
})

t.test('cluster: a sharded subscriber connection killed mid-login', async (t) => {
  const prefix = uniquePrefix('bus-reconnect-cluster')
  const target = { layout: 'cluster', nodes: redisClusterNodes({ REDIS_CLUSTER_NODES: requireClusterNodes() }) } as const
  const name = `wql-test-ssubscriber-${randomBytes(4).toString('hex')}`
  const publisher = createCommandConnection(target, 'wql-test-publisher')
  const subscriber = createSubscriberConnection(target, name)
  subscriber.on('error', () => {})
  t.after(() => Promise.all([closeConnection(publisher), closeConnection(subscriber)]))
  await Promise.all([connect(publisher), connect(subscriber)])
  const { loginChannel } = redisKeyspace(prefix, 'cluster')
  const bus = createRedisLoginBus(publisher, subscriber, loginChannel)
  const masters = await clusterMasters(t)
  const subscriptions = (scene: string) => subscribers(masters, 'cluster', loginChannel(scene))
  /** The master holding `scene`'s sharded subscription (a sharded channel, like a key, lives on its slot's master). */
  const holder = async (scene: string) => {
    const counts = await Promise.all(masters.map((redis) => subscribers([redis], 'cluster', loginChannel(scene))))
    return masters[counts.indexOf(1)]
  }

  const kept = newScene()
  const keptListener = countingListener()
  await bus.subscribe(kept, keptListener)
  const node = await holder(kept)
  if (node === undefined) throw new Error('no master holds the subscription')
  // A scene of the same master, so that its subscription goes down with the same connection.
  let left = newScene()
  let removeLeft = await bus.subscribe(left, countingListener())
  while (await holder(left) !== node) {
    await removeLeft()
    left = newScene()
    removeLeft = await bus.subscribe(left, countingListener())
  }

  // Kills this client's sharded subscriber connection on that master, and waits until the client noticed.
  const lookAgain = keptListener.next()
  const noticed = once(subscriber, '-node')
  const clients = await node.client('LIST') as string
  const line = clients.split('\n').find((candidate) => candidate.includes(` name=ioredis-cluster(ssubscriber):${name} `)) ?? ''
  await node.call('CLIENT', 'KILL', 'ID', /(?:^| )id=(\d+)/.exec(line)?.[1] ?? '')
  await noticed
  // Leaving while its connection is down: the SSUNSUBSCRIBE may fail with it, but the scene must not come back.
  await removeLeft().catch(() => {})
  await lookAgain
  await toldAndSubscribedAgain(t, { bus, listener: keptListener, scene: kept, subscriptions })
  await waitFor(async () => await subscriptions(left) === 0, { what: 'the scene left during the outage to hold no subscription' })
})
