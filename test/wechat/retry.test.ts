import t from 'tap'
import { errcodeAdvice, WeChatApiError, WeChatTransportError } from '../../src/wechat/errors.js'
import { isRetryable, withRetry } from '../../src/wechat/retry.js'

t.test('retried: busy (-1), no answer, 5xx and 429; never an answer that a retry would repeat', async (t) => {
  t.equal(isRetryable(new WeChatApiError('qrcode/create', -1, 'system error')), true)
  for (const errcode of [40001, 40013, 40125, 40164, 42001, 45009, 45011, 48001, 89503]) {
    t.equal(isRetryable(new WeChatApiError('stable_token', errcode, '')), false, `errcode ${errcode}: not retried`)
  }
  t.equal(isRetryable(new WeChatTransportError('user/info', 'timeout', 'TimeoutError')), true)
  t.equal(isRetryable(new WeChatTransportError('user/info', 'network', 'ECONNRESET')), true)
  t.equal(isRetryable(new WeChatTransportError('user/info', 'http_status', 'HTTP 503', 503)), true)
  t.equal(isRetryable(new WeChatTransportError('user/info', 'http_status', 'HTTP 429', 429)), true)
  t.equal(isRetryable(new WeChatTransportError('user/info', 'http_status', 'HTTP 404', 404)), false)
  t.equal(isRetryable(new WeChatTransportError('user/info', 'bad_response', 'not JSON')), false)
  t.equal(isRetryable(new Error('anything else')), false)
})

/** The error a call failed with, or null when it did not fail. */
function failure (promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => null, (error: unknown) => error)
}

t.test('withRetry: bounded by attempts and by the deadline; a permanent error is thrown at once', async (t) => {
  let attempts = 0
  const busy = () => { attempts++; return Promise.reject(new WeChatApiError('stable_token', -1, 'system error')) }

  t.match(await failure(withRetry(busy, { deadlineMs: 60_000, baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 4 }, { api: 'stable_token' })), { errcode: -1 })
  t.equal(attempts, 4, '4 attempts, the bound')

  attempts = 0
  t.match(await failure(withRetry(busy, { deadlineMs: 0 }, { api: 'stable_token' })), { errcode: -1 })
  t.equal(attempts, 1, 'no deadline left: one attempt')

  attempts = 0
  const quota = () => { attempts++; return Promise.reject(new WeChatApiError('stable_token', 45009, 'quota')) }
  t.match(await failure(withRetry(quota, { deadlineMs: 60_000 }, { api: 'stable_token' })), { errcode: 45009 })
  t.equal(attempts, 1, '45009: one attempt')

  attempts = 0
  const flaky = () => ++attempts < 3 ? Promise.reject(new WeChatTransportError('user/info', 'network', 'ECONNRESET')) : Promise.resolve('answer')
  t.equal(await withRetry(flaky, { deadlineMs: 60_000, baseDelayMs: 1 }, { api: 'user/info' }), 'answer')
  t.equal(attempts, 3)
})

t.test('errcodeAdvice: what an operator changes, and where', async (t) => {
  t.match(errcodeAdvice(40164), /IP白名单/)
  t.match(errcodeAdvice(40164), /设置与开发 → 基本配置/)
  t.match(errcodeAdvice(45009), /quota/)
  t.match(errcodeAdvice(40013), /WECHAT_APP_ID/)
  t.match(errcodeAdvice(40125), /WECHAT_APP_SECRET/)
  t.match(errcodeAdvice(48001), /permission/)
  t.match(errcodeAdvice(40001), /share one token/)
  t.equal(errcodeAdvice(0), undefined)
  t.equal(errcodeAdvice(12345), undefined)
})

t.test('withRetry: shutting down stops the retries at once with WeChat\'s own error', async (t) => {
  const shuttingDown = new AbortController()
  let attempts = 0
  const busy = new WeChatApiError('user/info', -1, 'system error')
  const pending = withRetry(async () => {
    attempts++
    // The first failure is followed by a backoff; shutdown begins during it.
    queueMicrotask(() => shuttingDown.abort())
    throw busy
  }, { deadlineMs: 60_000, baseDelayMs: 30_000, signal: shuttingDown.signal }, { api: 'user/info' })
  await t.rejects(pending, busy)
  t.equal(attempts, 1, 'no attempt after the shutdown began')

  let afterAbort = 0
  await t.rejects(withRetry(async () => { afterAbort++; throw busy }, { deadlineMs: 60_000, signal: shuttingDown.signal }, { api: 'user/info' }), busy)
  t.equal(afterAbort, 1, 'an already-aborted policy makes one attempt and no retry')
})
