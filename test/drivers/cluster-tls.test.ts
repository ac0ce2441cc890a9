/**
 * A Redis Cluster reached over TLS only (as managed clusters are), with a CA of the test's own: the
 * service, a real process told REDIS_CLUSTER_TLS=1 and trusting the CA through Node's
 * NODE_EXTRA_CA_CERTS, runs a whole login on it (commands, the sharded subscriber, BullMQ's queue
 * and worker, every one a TLS connection). Without the CA it connects to nothing: the nodes'
 * certificate is checked, never waved through: the boot fails.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { TEST_WECHAT, createLogin, exchange, freePort, startEmulator } from '../helper.js'
import { startService } from '../helpers/processes.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { openLoginSocket, waitForStatus } from '../helpers/sockets.js'

t.setTimeout(90_000)

t.test('REDIS_CLUSTER_TLS is for a cluster only', async (t) => {
  t.throws(() => loadConfig({ ...TEST_WECHAT, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_TLS: '1' }), ConfigError)
  t.throws(() => loadConfig({ ...TEST_WECHAT, REDIS_CLUSTER_TLS: '1' }), /REDIS_CLUSTER_TLS is set without REDIS_CLUSTER_NODES/)
})

t.test('a TLS-only cluster: a whole login through the service; without the CA, no connection', async (t) => {
  const cluster = await startRedisCluster({ tls: true })
  t.after(() => cluster.close())
  const caFile = cluster.caFile ?? ''
  t.not(caFile, '', 'the cluster has its CA')
  const emulator = await startEmulator(t)
  const spool = await mkdtemp(join(tmpdir(), 'wql-cluster-tls-'))
  t.after(() => rm(spool, { recursive: true, force: true }))
  const envFor = async (): Promise<Record<string, string>> => {
    const port = await freePort()
    return {
      ...TEST_WECHAT,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      REDIS_CLUSTER_NODES: cluster.nodes,
      REDIS_CLUSTER_TLS: '1',
      REDIS_PREFIX: `wqltest:cluster-tls:${randomBytes(4).toString('hex')}:`,
      WECHAT_API_BASE: emulator.url,
      WECHAT_MP_BASE: emulator.url,
      SPOOL_DIR: join(spool, String(port)),
      LOG_LEVEL: 'info'
    }
  }

  const env = await envFor()
  const service = await startService(t, 'server', { ...env, NODE_EXTRA_CA_CERTS: caFile })
  const url = env.PUBLIC_URL as string
  emulator.pushTo({ url })
  const login = await createLogin({ url })
  const socket = await openLoginSocket({ url }, { scene: login.scene, secret: login.secret })
  t.equal((await socket.next()).status, 'pending', 'the login is stored and read back')
  const user = emulator.emulator.users.find((candidate) => candidate.following)
  t.equal((await emulator.emulator.scan(login.ticket, user?.openid ?? '')).status, 200, 'the push is queued')
  const { message } = await waitForStatus(socket, 'confirmed')
  t.equal((await exchange({ url }, message.code ?? '')).status, 200, 'the worker confirmed it, the page heard it, the code redeems')
  t.notOk(service.logs.some((line) => line.level !== undefined && Number(line.level) >= 50), 'no error logged')

  // ioredis reports a refused certificate as a closed connection: the boot fails, with no detail.
  const untrusting = await startService(t, 'server', await envFor(), { ready: (started) => started.exited })
  t.same(await untrusting.exited, { code: 1, signal: null }, 'without the CA the service does not start')
  t.ok(untrusting.logs.some((line) => line.level === 60 && line.msg === 'could not start'), 'and says so')
})
