import { fork } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import type { CachedToken } from '../../src/wechat/access-token.js'
import { redisUrl } from '../helpers/redis.js'
import { assertNothingSecretLogged, counters, createLoginQr, created, deploymentCache, fetchesWhileHeld, fire, inspector, startInstances, startTokenEmulator, tokenKey } from './token-fixtures.js'

// The refresh lock: a holder that dies (in place, or SIGKILLed mid-fetch) blocks the others no
// longer than its TTL, and its late write is fenced off. And the legacy endpoint under the same lock.

t.test('lock holder dead (took the lock, never released) → the others wait out its TTL, then exactly 1 token fetch; its late write is fenced off', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps, prefix } = await startInstances(t, emulator, 5)
  const redis = await inspector(t)
  const tokenCache = await deploymentCache(t, prefix)
  const dead = await tokenCache.acquireRefreshLock(1500)
  t.type(dead, 'string')

  const calls = fire(apps, 200)
  t.equal(await fetchesWhileHeld(redis, prefix, dead!, emulator), 0, 'nobody fetched while the dead holder\'s lock lived')
  t.equal(created(await calls), 1000, 'all 1000 calls succeed after the TTL')
  t.equal(counters(emulator).tokenFetches, 1, 'tokenFetches = 1')

  const zombie: CachedToken = { token: 'written-by-the-dead-holder', expiresAt: Date.now() + 7_200_000, refreshAt: Date.now() + 6_900_000 }
  t.equal(await tokenCache.setIfFenced(zombie, dead!), false, 'the dead holder\'s late write is refused')
  t.not((await tokenCache.get())?.token, zombie.token)
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('lock holder SIGKILLed mid-fetch → the others proceed after its lock TTL with 1 token fetch of their own (tokenFetches 2 with the dead one\'s)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps, prefix } = await startInstances(t, emulator, 5)
  const redis = await inspector(t)
  // The holder's fetch reaches WeChat and hangs there: it dies mid-fetch.
  emulator.emulator.faults.latency('stable_token', 60_000, 1)
  const called = once(emulator.calls, 'call')
  const holder = fork(join(import.meta.dirname, 'lock-holder.js'), [redisUrl, prefix, emulator.url, '1500'], { execArgv: [], stdio: 'inherit' })
  t.after(() => { if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL') })
  const exited = once(holder, 'exit').then(() => { throw new Error('the lock holder exited before fetching') })
  const [api] = await Promise.race([called, exited])
  t.equal(api, 'stable_token', 'the holder is fetching')
  const fence = await redis.get(`${tokenKey(prefix)}:lock`)
  t.type(fence, 'string', 'and holds the lock')

  holder.kill('SIGKILL')
  await once(holder, 'exit')
  const calls = fire(apps, 200)
  t.equal(await fetchesWhileHeld(redis, prefix, fence!, emulator), 1, 'no fetch but the dead one\'s while its lock lived')
  t.equal(created(await calls), 1000, 'all 1000 calls succeed')
  t.equal(counters(emulator).tokenFetches, 2, 'tokenFetches = 2: the dead holder\'s and one more')
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('WECHAT_TOKEN_MODE=legacy: 1000 calls from cold → 1 cgi-bin/token fetch; invalidated → 1 refetch; invalidated again within the minute → 40001 surfaces, no fetch (tokenFetches 1, 2, 2)', async (t) => {
  const emulator = await startTokenEmulator(t)
  // Proof that stable_token is not used: it would fail.
  emulator.emulator.faults.inject({ api: 'stable_token', errcode: 40164 })
  const { apps } = await startInstances(t, emulator, 5, { WECHAT_TOKEN_MODE: 'legacy' })

  t.equal(created(await fire(apps, 200)), 1000)
  t.equal(counters(emulator).tokenFetches, 1, 'tokenFetches = 1')

  emulator.emulator.invalidateTokens()
  t.equal(created(await fire(apps, 200)), 1000, 'recovered')
  t.equal(counters(emulator).tokenFetches, 2, 'tokenFetches = 2: one refetch (each cgi-bin/token call replaces the token everywhere)')

  emulator.emulator.invalidateTokens()
  t.match(await createLoginQr(apps[0]!), { status: 502, body: { errcode: 40001 } }, 'within the minute the refusal surfaces')
  t.equal(counters(emulator).tokenFetches, 2, 'tokenFetches = 2: no refetch without the guard')
  assertNothingSecretLogged(t, apps, emulator)
})
