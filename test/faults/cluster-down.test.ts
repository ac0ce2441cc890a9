/**
 * Every node of the Redis Cluster out of reach, or back but not yet agreed: ioredis' cluster client
 * fails with errors of its own ("Cluster isn't ready…", ClusterAllFailedError, "Too many Cluster
 * redirections…"), which must count as "Redis unavailable" as a single Redis' do: the webhook keeps
 * the scan in its spool and answers in time, routes answer 503, the page's socket stays open and
 * reads again. (Read as an internal error, the scan would be answered 500 and lost, the page closed.)
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, Redis } from 'ioredis'
import t from 'tap'
import { redisClusterNodes } from '../../src/config.js'
import { closeConnection, connect, createCommandConnection } from '../../src/drivers/redis/connections.js'
import { isBackendUnavailable } from '../../src/errors.js'
import { build, createLogin, exchange, startEmulator } from '../helper.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'
import { waitFor, waitForLogLine, type LoggedLine } from '../helpers/wait.js'

t.setTimeout(120_000)

t.test('the whole cluster down: the push is spooled and answered success, new logins 503, the page keeps its socket', async (t) => {
  const cluster = await startRedisCluster()
  t.after(() => cluster.close())
  const spool = await mkdtemp(join(tmpdir(), 'wql-cluster-spool-'))
  t.after(() => rm(spool, { recursive: true, force: true }))
  const emulator = await startEmulator(t)
  // No worker: BullMQ's blocking connections, closed while reconnecting, would keep the test alive.
  const app = await build(t, { driver: 'cluster', emulator, env: { REDIS_CLUSTER_NODES: cluster.nodes, SPOOL_DIR: spool, RUN_WORKER: '0' } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, login)
  t.equal((await socket.next()).status, 'pending')
  const user = emulator.emulator.users[0]
  if (user === undefined) throw new Error('no test user')

  await cluster.close()
  const created = await fetch(`${app.url}/api/login/qr`, { method: 'POST' })
  t.same({ status: created.status, body: await created.json() }, { status: 503, body: { error: 'unavailable' } }, 'a new login: 503, not 500')

  const answer = await emulator.emulator.scan(login.ticket, user.openid)
  t.same({ status: answer.status, body: answer.body }, { status: 200, body: 'success' }, 'answered success within WeChat\'s 5 s')
  t.match(await waitForLogLine(app.logs, (line: LoggedLine) => line.msg === 'scan event received'), { outcome: 'spooled' }, 'kept on disk')
  const names = (await readdir(spool)).filter((name) => name.endsWith('.spool'))
  const lines = (await Promise.all(names.map((name) => readFile(join(spool, name), 'utf8')))).join('').split('\n').filter((line) => line !== '')
  t.equal(lines.length, 1, 'one event in the spool')
  t.match(JSON.parse(lines[0] ?? '{}'), { scan: { scene: login.scene, openid: user.openid } })
  t.equal(socket.ws.readyState, socket.ws.OPEN, 'the page\'s socket stayed open')
})

t.test('a slot no master serves: once ioredis gives up following the redirections, the command fails as "Redis unavailable"', async (t) => {
  const cluster = await startRedisCluster()
  t.after(() => cluster.close())
  const commands = createCommandConnection({ layout: 'cluster', nodes: redisClusterNodes({ REDIS_CLUSTER_NODES: cluster.nodes }) }, 'wqltest:unserved')
  if (!(commands instanceof Cluster)) throw new Error('the command connection of a cluster target is a cluster client')
  commands.on('error', () => {})
  commands.on('node error', () => {})
  t.after(() => closeConnection(commands))
  await connect(commands)
  const key = 'wqltest:unserved'
  const slot = Number(await commands.cluster('KEYSLOT', key))
  const [host, port] = (commands.slots[slot]?.[0] ?? '').split(':')
  const owner = new Redis({ host, port: Number(port) })
  t.after(() => { owner.disconnect() })

  // What a whole-cluster restart looks like for a while (a restarted master answers CLUSTERDOWN for
  // 2 s, one already serving MOVED to it), here for as long as the test wants.
  await owner.cluster('DELSLOTS', slot)
  const error = await commands.hgetall(key).then(() => null, (failure: Error) => failure)
  t.match(error, { message: /^Too many Cluster redirections\. Last error: .*(CLUSTERDOWN|MOVED)/ }, 'ioredis gave up')
  t.ok(isBackendUnavailable(error), 'Redis unavailable: a route answers 503, the webhook spools, a page keeps its socket and reads again')

  await owner.cluster('ADDSLOTS', slot)
  await waitFor(() => commands.hgetall(key).then(() => true, () => false), { timeoutMs: 10_000, intervalMs: 100, what: 'the slot to be served again' })
})

t.test('the whole cluster restarts empty: the page\'s instance hears it, puts its login back, and the scan logs the visitor in', async (t) => {
  const cluster = await startRedisCluster()
  t.after(() => cluster.close())
  const emulator = await startEmulator(t)
  const app = await build(t, { driver: 'cluster', emulator, env: { REDIS_CLUSTER_NODES: cluster.nodes } })
  const login = await createLogin(app)
  const socket = await openLoginSocket(app, login)
  t.equal((await socket.next()).status, 'pending')

  await cluster.stop()
  await cluster.start()
  // Only a page's instance knows its login now. It reads again once its sharded subscriptions are
  // back (pub/sub may have lost a change meanwhile), finds the login gone and puts it back. A read
  // the nodes refuse while they agree again is Redis unavailable, tried again, not a closed socket.
  await waitForLogLine(app.logs, (line: LoggedLine) => line.msg === 'login lost by the store (Redis restarted without its data): put back as pending', { what: 'the login put back', timeoutMs: 20_000 })

  const user = emulator.emulator.users[0]
  if (user === undefined) throw new Error('no test user')
  const answer = await emulator.emulator.scan(login.ticket, user.openid)
  t.equal(answer.status, 200)
  const { message } = await waitForStatus(socket, 'confirmed')
  const redeemed = await exchange(app, message.code ?? '')
  t.same({ status: redeemed.status, openid: redeemed.body.openid }, { status: 200, openid: user.openid }, 'logged in, without a second scan')
})
