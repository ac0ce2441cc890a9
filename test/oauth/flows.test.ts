import t from 'tap'
import { DRIVERS_AND_CLUSTER, exchange } from '../helper.js'
import { Browser, SITE, TEST_OPEN_APP, authorizeAs, buildOAuthApp, emulatorUsers, oauthCounters, popupData } from './helper.js'
import { POPUP_CSP, POPUP_SCRIPT_HASH } from '../../routes/oauth/pages.js'

/** The whole of each OAuth flow through the built-in emulator over real HTTP, on every state driver (one Redis, Redis Cluster, embedded). */
for (const driver of DRIVERS_AND_CLUSTER) {
  t.test(`${driver}: flow=mp, snsapi_base: no screen, straight back with a login code; the identity says mp`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const [phoneUser] = await emulatorUsers(app)
    const browser = new Browser()

    const started = await browser.get(`${app.url}/auth/wechat/authorize?flow=mp&scope=snsapi_base&return_to=${encodeURIComponent(`${SITE}/after?x=1#top`)}`)
    t.equal(started.status, 302)
    const wechat = new URL(started.location ?? '')
    t.equal(`${wechat.origin}${wechat.pathname}`, `${app.url}/_emulator/connect/oauth2/authorize`, "in emulator mode WeChat's authorize page is the emulator's")
    t.same([...wechat.searchParams.keys()], ['appid', 'redirect_uri', 'response_type', 'scope', 'state'], "WeChat's parameters, in WeChat's order")
    t.match(Object.fromEntries(wechat.searchParams), { appid: app.config.WECHAT_APP_ID, redirect_uri: `${app.url}/auth/wechat/callback`, response_type: 'code', scope: 'snsapi_base' })
    t.match(wechat.searchParams.get('state'), /^[A-Za-z0-9]{32}$/, 'state: 32 letters and digits')
    t.equal(wechat.hash, '#wechat_redirect')
    const cookie = String(started.headers['set-cookie'])
    t.match(cookie, /^wql_oauth_browser=[^;]+\.[^;]+;/, 'a signed browser cookie')
    t.match(cookie, /HttpOnly/)
    t.match(cookie, /SameSite=Lax/)
    t.match(cookie, /Path=\/auth\/wechat/)

    const back = await browser.get(wechat.toString())
    t.equal(back.status, 302, 'snsapi_base shows no page')
    const callback = new URL(back.location ?? '')
    t.equal(callback.pathname, '/auth/wechat/callback')
    t.equal(callback.searchParams.get('state'), wechat.searchParams.get('state'))

    const done = await browser.get(callback.toString())
    t.equal(done.status, 302)
    const landing = new URL(done.location ?? '')
    t.equal(`${landing.origin}${landing.pathname}`, `${SITE}/after`, 'back to return_to')
    t.equal(landing.searchParams.get('x'), '1', "return_to's own query is kept")
    t.equal(landing.hash, '#top', 'and its fragment')
    const code = landing.searchParams.get('code') ?? ''
    t.match(code, /^[\w-]{47}$/, 'a login code of the follow-scan kind (a 4-character tag, then 256 random bits)')

    const redeemed = await exchange(app, code)
    t.equal(redeemed.status, 200)
    t.same(redeemed.body, {
      openid: phoneUser?.openid,
      unionid: null,
      scene: null,
      subscribed: null,
      confirmedAt: redeemed.body.confirmedAt,
      flow: 'mp'
    }, 'snsapi_base: the openid, no profile')
    t.same(await exchange(app, code), { status: 400, body: { error: 'invalid_grant' } }, 'once')
    t.match(await oauthCounters(app), { codeExchanges: 1, userInfoCalls: 0 }, 'snsapi_base reads no userinfo')
  })

  t.test(`${driver}: flow=mp, snsapi_userinfo: the consent page, then the profile in the identity`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const user = (await emulatorUsers(app)).find((candidate) => candidate.unionid !== null && !candidate.following)
    if (user === undefined) throw new Error('no test user with a unionid')
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'mp', scope: 'snsapi_userinfo' }, { openid: user.openid })
    const done = await browser.get(callback)
    t.equal(done.status, 302)
    const code = new URL(done.location ?? '').searchParams.get('code') ?? ''
    const redeemed = await exchange(app, code)
    t.equal(redeemed.status, 200)
    t.match(redeemed.body, {
      openid: user.openid,
      unionid: user.unionid,
      scene: null,
      subscribed: null,
      flow: 'mp',
      profile: { nickname: user.nickname, sex: 0, province: '', city: '', country: '', privilege: [] }
    })
    t.match((redeemed.body.profile as { headimgurl: string }).headimgurl, /^https:\/\//, 'an avatar URL')
  })

  t.test(`${driver}: flow=web (website QR), redirect: the website app's openid, same unionid`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const user = (await emulatorUsers(app)).find((candidate) => candidate.unionid !== null)
    if (user === undefined) throw new Error('no test user with a unionid')
    const browser = new Browser()
    const { callback, wechatUrl } = await authorizeAs(browser, app, { flow: 'web' }, { openid: user.openid })
    t.equal(wechatUrl.pathname, '/_emulator/connect/qrconnect')
    t.match(Object.fromEntries(wechatUrl.searchParams), { appid: TEST_OPEN_APP.WECHAT_OPEN_APP_ID, scope: 'snsapi_login' })
    const done = await browser.get(callback)
    t.equal(done.status, 302)
    const redeemed = await exchange(app, new URL(done.location ?? '').searchParams.get('code') ?? '')
    t.equal(redeemed.status, 200)
    t.match(redeemed.body, { unionid: user.unionid, flow: 'web', profile: { nickname: user.nickname } })
    t.not(redeemed.body.openid, user.openid, "the website app's openid is its own, not the Official Account's")
    t.match(redeemed.body.openid, /^o[\w-]{27}$/)
  })

  t.test(`${driver}: flow=web, display=popup: a page that posts the code to the return_to origin only, under a strict CSP`, async (t) => {
    const app = await buildOAuthApp(t, { driver })
    const browser = new Browser()
    const { callback } = await authorizeAs(browser, app, { flow: 'web', display: 'popup', returnTo: `${SITE}/login/done` })
    const page = await browser.get(callback)
    t.equal(page.status, 200)
    t.match(page.headers['content-type'], /^text\/html/)
    t.equal(page.headers['content-security-policy'], POPUP_CSP)
    t.match(POPUP_CSP, /default-src 'none'/)
    t.match(POPUP_CSP, `script-src ${POPUP_SCRIPT_HASH}`, 'only the one script, by its hash')
    t.notMatch(POPUP_CSP, /unsafe-inline|unsafe-eval/)
    t.equal(page.headers['cache-control'], 'no-store')

    const data = popupData(page.body)
    t.equal(data.targetOrigin, SITE, "postMessage targets return_to's origin, not '*'")
    t.equal(data.message.type, 'wechat-login')
    t.equal(data.fallback, `${SITE}/login/done?code=${data.message.code}`, 'without an opener: return_to with the code')
    t.match(page.body, /window\.opener\.postMessage\(data\.message, data\.targetOrigin\)/)
    t.match(page.body, /window\.close\(\)/)

    const redeemed = await exchange(app, data.message.code)
    t.equal(redeemed.status, 200)
    t.match(redeemed.body, { flow: 'web' })
  })
}

t.test('GET /api/login/config tells the page which OAuth flows run, and how to open them', async (t) => {
  const app = await buildOAuthApp(t, { driver: 'embedded' })
  const config = await (await fetch(`${app.url}/api/login/config`)).json() as Record<string, unknown>
  t.match(config, { webLogin: true, mpLogin: true })
  const web = new URL(String(config.webLoginUrl))
  t.equal(`${web.origin}${web.pathname}`, `${app.url}/auth/wechat/authorize`)
  t.same(Object.fromEntries(web.searchParams), { flow: 'web', scope: 'snsapi_login', display: 'popup' })
})
