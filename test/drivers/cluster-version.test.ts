/**
 * A Redis Cluster older than Redis 7 has no sharded pub/sub, which carries the login bus there: the
 * drivers refuse it at boot with the version found, instead of starting and failing every page's
 * socket. The check reads the `INFO server` of the suite's real cluster; an older server's answer
 * is that same text with its version changed (no Redis 6 runs here).
 */
import t from 'tap'
import { clusterVersionProblem } from '../../src/drivers/redis/server-version.js'
import { clusterMasters } from './matrix.js'

t.test('the suite\'s cluster (Redis 7) passes; the same INFO from a Redis 6.2 or without a version is refused', async (t) => {
  const masters = await clusterMasters(t)
  t.equal(masters.length, 3, 'three masters')
  for (const master of masters) {
    const info = await master.info('server')
    t.match(info, /^redis_version:7\./m, 'a Redis 7 node')
    t.equal(clusterVersionProblem(info), null, `${master.options.port ?? ''}: accepted`)
  }
  const info = await (masters[0] as (typeof masters)[number]).info('server')

  const older = clusterVersionProblem(info.replace(/^redis_version:[^\r\n]+/m, 'redis_version:6.2.14'))
  t.match(older, /Redis 6\.2\.14/, 'the refusal names the version found')
  t.match(older, /REDIS_CLUSTER_NODES/, 'and the variable to look at')
  t.match(older, /Redis 7 or later.*SSUBSCRIBE\/SPUBLISH/, 'and what is needed, and why')
  t.match(clusterVersionProblem(info.replace(/^redis_version:[^\r\n]+\r?\n/m, '')), /version not reported/, 'no version: refused too')
  t.equal(clusterVersionProblem(info.replace(/^redis_version:[^\r\n]+/m, 'redis_version:8.0.2')), null, 'a later major version passes')
})
