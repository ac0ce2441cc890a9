import { setTimeout as delay } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { DRIVERS, TEST_WECHAT, build, exchange, freePort, startEmulator } from '../helper.js'
import { cleanupKeys, uniquePrefix } from '../helpers/redis.js'
import { Browser, SITE, TEST_OPEN_APP, authorizeAs, authorizeUrl, buildOAuthApp, control, oauthCounters, oauthEnv, refusalOf } from './helper.js'

/** A refusal is a small HTML page with a 4xx status that names its reason; never a login code. */
function assertRefused (t: Test, response: { status: number, body: string, location: string | null, headers: Record<string, unknown> }, status: number, reason: string): void {
  t.equal(response.status, status, `status ${status}`)
  t.equal(refusalOf(response.body), reason, `the page says ${reason}`)
  t.equal(response.location, null, 'no redirect')
  t.match(String(response.headers['content-type']), /^text\/html/)
  t.match(response.body, /lang="zh-CN"/)
  t.notMatch(response.body, /code=/, 'no login code anywhere in the page')
}

/** The "start again" link of a page, unescaped. */
function restartLink (html: string): URL | null {
  const href = /<a class="button" href="([^"]+)">/.exec(html)?.[1]
  return href === undefined ? null : new URL(href.replace(/&#(\d+);/g, (_all, code: string) => String.fromCharCode(Number(code))))
}

for (const driver of DRIVERS) {
  t.test(`${driver}: a return_to outside ALLOWED_RETURN_ORIGINS is refused before any redirect or cookie`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    for (const returnTo of [
      'https://evil.example.net/steal',
      `${SITE}.evil.example.net/`,
      'https://shop.example.com:8443/',
      'http://shop.example.com/',
      `https://user:pass@${new URL(SITE).host}/`,
      'javascript:alert(1)',
      '/relative/path',
      '//evil.example.net/'
    ]) {
      const response = await browser.get(authorizeUrl(app, { flow: 'mp', returnTo }))
      assertRefused(t, response, 400, 'return_to_refused')
      t.equal(response.headers['set-cookie'], undefined, `no cookie for ${returnTo}`)
    }
    const missing = await browser.get(`${app.url}/auth/wechat/authorize?flow=mp`)
    assertRefused(t, missing, 400, 'bad_request')
    t.match(await oauthCounters(app), { codesIssued: 0 })
  })

  t.test(`${driver}: a state started by another browser is refused (login CSRF), and stays usable by its own`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const victim = new Browser()
    const attacker = new Browser()
    const { callback } = await authorizeAs(attacker, app, { flow: 'mp', scope: 'snsapi_userinfo' })
    // The attacker makes the victim's browser open the attacker's callback URL.
    assertRefused(t, await victim.get(callback), 403, 'foreign_browser')
    // A browser with no cookie at all, and one with a forged cookie, fare no better.
    const forged = new Browser()
    forged.cookies.push({ name: 'wql_oauth_browser', value: 'forged.signature', host: new URL(app.url).host, path: '/auth/wechat' })
    assertRefused(t, await forged.get(callback), 403, 'foreign_browser')
    t.match(await oauthCounters(app), { codeExchanges: 0 }, 'WeChat was not even asked')

    const own = await attacker.get(callback)
    t.equal(own.status, 302, "the state's own browser still completes")
    t.equal((await exchange(app, new URL(own.location ?? '').searchParams.get('code') ?? '')).status, 200)
    assertRefused(t, await victim.get(callback), 403, 'foreign_browser')
  })

  t.test(`${driver}: a used state: the same callback again gets the same answer; another code on it is refused`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'web' })
    const first = await browser.get(callback)
    t.equal(first.status, 302)
    const again = await browser.get(callback)
    t.equal(again.location, first.location, 'WeChat repeating the callback: same redirect, same login code')

    const replayed = new URL(callback)
    replayed.searchParams.set('code', 'another-code-from-somewhere')
    assertRefused(t, await browser.get(replayed.toString()), 400, 'state_used')
    t.match(await oauthCounters(app), { codeExchanges: 1 }, 'one code exchange in all')
  })

  t.test(`${driver}: connect_redirect: two callbacks at once mint one login code, and both carry it`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'mp', scope: 'snsapi_userinfo' })
    // WeChat busy once: the first callback retries while the second arrives and must wait for it.
    t.equal(await control(app, 'faults', { api: 'sns/oauth2/access_token', errcode: -1, times: 1 }), 201)
    const [one, two] = await Promise.all([browser.get(callback), browser.get(callback)])
    t.equal(one?.status, 302)
    t.equal(two?.status, 302, 'no error for the repeat')
    t.equal(one?.location, two?.location, 'the same login code')
    t.match(await oauthCounters(app), { codeExchanges: 2, userInfoCalls: 1 }, 'one authorization (the busy answer retried once)')
    const code = new URL(one?.location ?? '').searchParams.get('code') ?? ''
    t.equal((await exchange(app, code)).status, 200)
    t.equal((await exchange(app, code)).status, 400, 'and it redeems once')
  })

  t.test(`${driver}: WeChat refuses a used code (40163): a page inviting to start again, no login code`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'mp', scope: 'snsapi_userinfo', returnTo: `${SITE}/a?b=c` })
    // Someone (a proxy, a pre-fetcher) spent the code first.
    const wechatCode = new URL(callback).searchParams.get('code') ?? ''
    const spent = await (await fetch(`${app.url}/_emulator/sns/oauth2/access_token?${new URLSearchParams({
      appid: TEST_WECHAT.WECHAT_APP_ID, secret: TEST_WECHAT.WECHAT_APP_SECRET, code: wechatCode, grant_type: 'authorization_code'
    }).toString()}`)).json() as { access_token?: string }
    t.type(spent.access_token, 'string')

    const response = await browser.get(callback)
    assertRefused(t, response, 400, 'code_refused')
    t.match(response.body, /WeChat errcode 40163/)
    const restart = restartLink(response.body)
    t.equal(`${restart?.origin}${restart?.pathname}`, `${app.url}/auth/wechat/authorize`, 'start again: our authorize route')
    t.same(Object.fromEntries(restart?.searchParams ?? []), { flow: 'mp', scope: 'snsapi_userinfo', return_to: `${SITE}/a?b=c` }, 'with the same flow, scope and return_to')
    const restarted = await browser.get(restart?.toString() ?? '')
    t.equal(restarted.status, 302, 'and it starts a new authorization')
  })

  t.test(`${driver}: WeChat's other answers are pages too: a configuration error is a 502 page, never a 500`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'web' })
    t.equal(await control(app, 'faults', { api: 'sns/oauth2/access_token', errcode: 40125, times: 1 }), 201)
    const response = await browser.get(callback)
    t.equal(response.status, 502)
    t.equal(refusalOf(response.body), 'wechat_error')
    t.match(response.body, /WeChat errcode 40125/)
    t.ok(app.logs.some((line) => line.includes('"errcode":40125') && line.includes('WECHAT_OPEN_APP_SECRET')), "the log names the website app's secret")
  })

  t.test(`${driver}: a snapshot-mode visitor is not logged in`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'mp', scope: 'snsapi_userinfo' }, { snapshot: true })
    const response = await browser.get(callback)
    assertRefused(t, response, 403, 'snapshot_user')
    t.match(response.body, /使用完整服务/, 'it tells the visitor what to tap')
    t.match(await oauthCounters(app), { codeExchanges: 1, userInfoCalls: 0 }, 'its virtual openid is not even looked up')
  })

  t.test(`${driver}: the visitor declines: a page, no login code`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'web' }, { decline: true })
    t.notOk(new URL(callback).searchParams.has('code'), 'WeChat calls back with the state only')
    assertRefused(t, await browser.get(callback), 403, 'declined')
  })

  t.test(`${driver}: unknown and malformed states`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    await authorizeAs(browser, app, { flow: 'mp' })
    for (const query of ['code=x&state=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef', 'code=x&state=short', 'code=x', 'state=%3Cscript%3E']) {
      assertRefused(t, await browser.get(`${app.url}/auth/wechat/callback?${query}`), 400, 'unknown_state')
    }
  })
}

t.test('a state past OAUTH_STATE_TTL_SECONDS is refused as expired, with a way to start again', async (t) => {
  const app = await buildOAuthApp(t, { env: { OAUTH_STATE_TTL_SECONDS: '1' } })
  const browser = new Browser()
  const startedAt = Date.now()
  const { callback } = await authorizeAs(browser, app, { flow: 'mp' })
  // The state's one second runs out; WeChat's code (5 minutes) is still good.
  await delay(Math.max(0, startedAt + 1100 - Date.now()))
  const response = await browser.get(callback)
  assertRefused(t, response, 400, 'expired_state')
  t.ok(restartLink(response.body), 'start again')
  t.match(await oauthCounters(app), { codeExchanges: 0 }, 'the code is not spent')
})

t.test('two instances on one Redis: the repeated callback lands on the other instance and gets the same code', async (t) => {
  const emulator = await startEmulator(t, { openApp: { appId: TEST_OPEN_APP.WECHAT_OPEN_APP_ID, appSecret: TEST_OPEN_APP.WECHAT_OPEN_APP_SECRET } })
  const prefix = uniquePrefix('oauth-instances')
  cleanupKeys(t, prefix)
  const env = oauthEnv({ WECHAT_EMULATOR: '0', WECHAT_OPEN_BASE: emulator.url })
  const [first, second] = await Promise.all([build(t, { emulator, prefix, env }), build(t, { emulator, prefix, env })])
  if (first === undefined || second === undefined) throw new Error('two instances expected')
  const browser = new Browser()
  const { callback } = await authorizeAs(browser, first, { flow: 'web' })
  // The same browser behind a load balancer: the same cookie reaches either instance.
  const other = new URL(callback)
  other.host = new URL(second.url).host
  browser.cookies.push(...browser.cookies.map((cookie) => ({ ...cookie, host: other.host })))
  emulator.oauth.failNext('sns/oauth2/access_token', -1, 1)
  const [one, two] = await Promise.all([browser.get(callback), browser.get(other.toString())])
  t.equal(one?.status, 302)
  t.equal(two?.status, 302)
  t.equal(one?.location, two?.location, 'one login code, whichever instance answered')
  t.equal(emulator.oauth.counters.codeExchanges, 2, 'exchanged by one instance (a busy answer, then success)')
})

t.test('WeChat unreachable (after the retries): a 502 page, the state settled with it', async (t) => {
  const emulator = await startEmulator(t, { openApp: { appId: TEST_OPEN_APP.WECHAT_OPEN_APP_ID, appSecret: TEST_OPEN_APP.WECHAT_OPEN_APP_SECRET } })
  const closedPort = await freePort()
  // The authorize pages answer; api.weixin.qq.com does not (nothing listens there).
  const app = await build(t, {
    driver: 'embedded',
    env: oauthEnv({ WECHAT_EMULATOR: '0', WECHAT_OPEN_BASE: emulator.url, WECHAT_API_BASE: `http://127.0.0.1:${closedPort}`, WECHAT_RETRY_DEADLINE_MS: '300' })
  })
  const browser = new Browser()
  const { callback } = await authorizeAs(browser, app, { flow: 'web' })
  const response = await browser.get(callback)
  t.equal(response.status, 502)
  t.equal(refusalOf(response.body), 'wechat_unreachable')
  t.ok(restartLink(response.body), 'start again')
  t.equal((await browser.get(callback)).status, 502, 'a repeat gets the same answer')
  t.ok(app.logs.some((line) => line.includes('WeChat unreachable') && line.includes('sns/oauth2/access_token')))
})

t.test('rate limit: authorizations per IP per minute (RATE_LIMIT_OAUTH_PER_IP), as a page', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'embedded', env: { RATE_LIMIT_OAUTH_PER_IP: '2' } })
  const browser = new Browser()
  t.equal((await browser.get(authorizeUrl(app, { flow: 'mp' }))).status, 302)
  t.equal((await browser.get(authorizeUrl(app, { flow: 'mp' }))).status, 302)
  const limited = await browser.get(authorizeUrl(app, { flow: 'mp' }))
  t.equal(limited.status, 429)
  t.equal(refusalOf(limited.body), 'rate_limited')
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
})

t.test('flow and scope must fit what is configured', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'embedded', env: { WECHAT_OPEN_APP_ID: undefined, WECHAT_OPEN_APP_SECRET: undefined } })
  const browser = new Browser()
  assertRefused(t, await browser.get(authorizeUrl(app, { flow: 'web' })), 404, 'flow_unavailable')
  assertRefused(t, await browser.get(authorizeUrl(app, { flow: 'mp', scope: 'snsapi_login' })), 400, 'scope_not_allowed')
  assertRefused(t, await browser.get(authorizeUrl(app, { flow: 'mp', scope: 'snsapi_everything' })), 400, 'bad_request')
  const config = await (await fetch(`${app.url}/api/login/config`)).json() as Record<string, unknown>
  t.match(config, { webLogin: false, webLoginUrl: null, mpLogin: true })
})
