/**
 * ioredis puts a failed command's arguments on its error (`command.args`): a reply error in the
 * middle of a scan (WRONGTYPE here; READONLY, OOM and LOADING during a failover alike) carries the
 * scanner's openid, and a failed confirm a login code. The logs keep the command's name, never them.
 */
import { Redis } from 'ioredis'
import t from 'tap'
import { redisKeyspace } from '../../src/drivers/redis/keys.js'
import { build, createLogin, startEmulator } from '../helper.js'
import { redisUrl } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'

t.test("a Redis reply error in the worker's scan: logged with the command's name, not its arguments", async (t) => {
  const emulator = await startEmulator(t)
  const app = await build(t, { emulator })
  const login = await createLogin(app)
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  // The login's hash becomes a string: every script on it now fails with a reply error from Redis.
  const key = redisKeyspace(app.config.REDIS_PREFIX).login(login.scene)
  await redis.set(key, 'not a hash', 'KEEPTTL')

  const scanner = emulator.emulator.users[0]?.openid ?? ''
  t.ok(scanner.length >= 8, 'an openid long enough to search for')
  t.equal((await emulator.emulator.scan(login.ticket, scanner)).status, 200)
  await waitFor(() => app.logs.some((line) => line.includes('job failed')), { what: 'the job to fail' })
  const failed = JSON.parse(app.logs.find((line) => line.includes('job failed')) ?? '{}') as { err?: { message?: string, command?: { name?: string, args?: unknown } } }
  t.match(failed.err?.message, /WRONGTYPE/, 'the reply error is logged')
  t.match(failed.err?.command, { name: /^eval/, args: '[redacted]' }, 'the command is named, its arguments are not')
  const logs = app.logs.join('\n')
  t.notOk(logs.includes(scanner), "the scanner's openid is in no log line")
  t.notOk(logs.includes(login.secret), 'nor the browser secret')
})
