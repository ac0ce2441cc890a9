import t from 'tap'
import { errcodeAdvice } from '../../src/wechat/errors.js'
import type { TestApp } from '../helper.js'
import { assertNothingSecretLogged, counters, createLoginQr, created, fire, logLines, startInstances, startTokenEmulator } from './token-fixtures.js'

// How the access token and the calls behave when WeChat fails: busy, refusing, slow, down.

t.test('WeChat busy (-1) → retried with backoff: 3 busy token answers and 2 busy qrcode/create answers, then success (tokenFetches 4)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 1)
  const [app] = apps as [TestApp]
  emulator.emulator.faults.errcode('stable_token', -1, 3)
  emulator.emulator.faults.errcode('qrcode/create', -1, 2)

  t.equal((await createLoginQr(app)).status, 201, 'the call succeeds')
  t.equal(counters(emulator).tokenFetches, 4, 'tokenFetches = 4')
  t.equal(counters(emulator).qrCreates, 3, 'qrCreates = 3')
  t.equal(logLines(apps, 'WeChat call failed, retrying').length, 5, 'each retry logged (debug), with errcode and rid, never the URL')
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('40164 (IP not whitelisted) on the token fetch → one 502 naming the errcode, not retried (tokenFetches 1)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 1)
  const [app] = apps as [TestApp]
  emulator.emulator.faults.inject({ api: 'stable_token', errcode: 40164 })

  const response = await fetch(`${app.url}/api/login/qr`, { method: 'POST' })
  t.equal(response.status, 502)
  const advice = errcodeAdvice(40164) ?? ''
  t.match(advice, /IP白名单/, 'the advice says where to fix it in the console')
  t.same(await response.json(), { error: 'wechat_error', errcode: 40164, message: 'WeChat stable_token returned errcode 40164' },
    'the 502 names the errcode; the advice is for the operator, not for anonymous browsers')
  t.equal(counters(emulator).tokenFetches, 1, 'tokenFetches = 1: no retry')
  const lines = app.logs.filter((line) => line.includes('"errcode":40164'))
  t.equal(lines.length, 1, 'one clear log line')
  t.match(JSON.parse(lines[0] ?? '{}'), { advice }, 'which carries the advice')
})

t.test('45009 (daily quota) on the token fetch → surfaced at once, not retried (tokenFetches 1, then 2 once it lifts)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 1)
  const [app] = apps as [TestApp]
  emulator.emulator.faults.errcode('stable_token', 45009, 1)

  t.match(await createLoginQr(app), { status: 502, body: { error: 'wechat_error', errcode: 45009 } })
  t.equal(counters(emulator).tokenFetches, 1, 'tokenFetches = 1: a retry would have succeeded, so there was none')
  t.equal(counters(emulator).qrCreates, 0)
  t.equal((await createLoginQr(app)).status, 201, 'the next call fetches again')
  t.equal(counters(emulator).tokenFetches, 2)
})

t.test('every call has a timeout: no answer within WECHAT_TIMEOUT_MS → a timeout error (1 attempt without retry budget)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 1, { WECHAT_TIMEOUT_MS: '200', WECHAT_RETRY_DEADLINE_MS: '0' })
  const [app] = apps as [TestApp]
  t.equal((await createLoginQr(app)).status, 201)
  emulator.emulator.faults.latency('qrcode/create', 30_000, 1)

  t.match(await createLoginQr(app), { status: 502, body: { error: 'wechat_unreachable', message: /timeout/ } }, 'a transport error: timeout')
  t.equal(counters(emulator).qrCreates, 2)
})

const DOWN_DEADLINE_MS = 8000

t.test(`WeChat down for 3 s → 1000 calls from cold succeed after it, within the ${DOWN_DEADLINE_MS} ms deadline (tokenFetches ≤ 10: one holder, bounded retries)`, async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 5, { WECHAT_RETRY_DEADLINE_MS: String(DOWN_DEADLINE_MS) })
  emulator.emulator.faults.down('*', { durationMs: 3000 })

  const results = await fire(apps, 200)
  t.equal(created(results), 1000, 'all 1000 calls succeed')
  const fetches = counters(emulator).tokenFetches
  t.ok(fetches >= 2 && fetches <= 10, `tokenFetches = ${fetches}: retried, and bounded`)
  // Each of the 1000 creates reached WeChat with the holder's token; on a loaded machine a create can
  // outlast WECHAT_TIMEOUT_MS and be tried again, so a handful more attempts than calls is no fault.
  const creates = counters(emulator).qrCreates
  t.ok(creates >= 1000 && creates <= 1010, `qrCreates = ${creates}: one per call, but for a few retried timeouts`)
  assertNothingSecretLogged(t, apps, emulator)
})

t.test('WeChat down beyond the deadline → the call fails with a transport error after a bounded number of attempts (≤ 10)', async (t) => {
  const emulator = await startTokenEmulator(t)
  const { apps } = await startInstances(t, emulator, 1, { WECHAT_RETRY_DEADLINE_MS: '1000' })
  const [app] = apps as [TestApp]
  emulator.emulator.faults.down('*', { mode: '503' })

  t.match(await createLoginQr(app), { status: 502, body: { error: 'wechat_unreachable', message: /http_status/ } })
  const fetches = counters(emulator).tokenFetches
  t.ok(fetches >= 2 && fetches <= 10, `tokenFetches = ${fetches}`)
})
