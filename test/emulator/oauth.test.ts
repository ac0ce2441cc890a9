import t from 'tap'
import { createOAuthEmulator, type AuthorizePage, type OAuthAppCredentials, type OAuthEmulator } from '../../src/emulator/oauth.js'
import { createUsers, DEFAULT_USERS } from '../../src/emulator/users.js'
import { TEST_WECHAT, startEmulator } from '../helper.js'
import { TEST_OPEN_APP } from '../oauth/helper.js'

const MP: OAuthAppCredentials = { appId: TEST_WECHAT.WECHAT_APP_ID, appSecret: TEST_WECHAT.WECHAT_APP_SECRET }
const OPEN: OAuthAppCredentials = { appId: TEST_OPEN_APP.WECHAT_OPEN_APP_ID, appSecret: TEST_OPEN_APP.WECHAT_OPEN_APP_SECRET }

function emulatorAt (clock: { now: number }): OAuthEmulator {
  const users = createUsers(MP.appId, DEFAULT_USERS, () => clock.now).map(({ openid, unionid, nickname, following }) => ({ openid, unionid, nickname, following }))
  return createOAuthEmulator({ mp: MP, open: OPEN, users: () => users, now: () => clock.now })
}

function authorizeQuery (page: AuthorizePage, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    appid: page === 'oauth2' ? MP.appId : OPEN.appId,
    redirect_uri: 'https://login.example.com/auth/wechat/callback',
    response_type: 'code',
    scope: page === 'oauth2' ? 'snsapi_userinfo' : 'snsapi_login',
    state: 'abcDEF123',
    ...overrides
  }
}

/** A code, as WeChat's redirect carries it. */
function codeFor (oauth: OAuthEmulator, page: AuthorizePage, options: { scope?: string, snapshot?: boolean } = {}): string {
  const checked = oauth.checkAuthorize(page, authorizeQuery(page, options.scope === undefined ? {} : { scope: options.scope }))
  if (!checked.ok) throw new Error(checked.refusal.message)
  return new URL(oauth.approve(checked.request, oauth.phoneUser, { snapshot: options.snapshot ?? false })).searchParams.get('code') ?? ''
}

function exchange (oauth: OAuthEmulator, code: string, app = MP, overrides: Record<string, string> = {}) {
  return oauth.handle('sns/oauth2/access_token', { appid: app.appId, secret: app.appSecret, code, grant_type: 'authorization_code', ...overrides })
}

t.test('sns/oauth2/access_token: WeChat\'s errcodes for bad, used and expired codes', async (t) => {
  const clock = { now: Date.now() }
  const oauth = emulatorAt(clock)
  const code = codeFor(oauth, 'oauth2')
  t.match(exchange(oauth, code, MP, { grant_type: 'client_credential' }), { errcode: 40002 })
  t.match(exchange(oauth, code, MP, { appid: '' }), { errcode: 41002 })
  t.match(exchange(oauth, code, MP, { appid: 'wxsomeoneelse' }), { errcode: 40013 })
  t.match(exchange(oauth, code, MP, { secret: 'wrong' }), { errcode: 40125 })
  t.match(exchange(oauth, ''), { errcode: 41008 })
  t.match(exchange(oauth, 'made-up'), { errcode: 40029 })
  t.match(exchange(oauth, code, OPEN), { errcode: 40029 }, "another app's code is invalid for it")
  const granted = exchange(oauth, code)
  t.match(granted, { expires_in: 7200, openid: oauth.phoneUser, scope: 'snsapi_userinfo' })
  t.type(granted.access_token, 'string')
  t.type(granted.refresh_token, 'string')
  t.match(exchange(oauth, code), { errcode: 40163, errmsg: /^code been used rid: / })

  const late = codeFor(oauth, 'oauth2')
  clock.now += 5 * 60_000
  t.match(exchange(oauth, late), { errcode: 42003 }, "the Official Account's code lives 5 minutes")
  const website = codeFor(oauth, 'qrconnect')
  clock.now += 5 * 60_000
  t.match(exchange(oauth, website, OPEN), { openid: /^o/ }, "a website app's lives 10")
})

t.test('tokens: userinfo, refresh (extends a live token, replaces an expired one), revocation, 30 days', async (t) => {
  const clock = { now: Date.now() }
  const oauth = emulatorAt(clock)
  const grant = exchange(oauth, codeFor(oauth, 'qrconnect'), OPEN)
  const openid = String(grant.openid)
  t.not(openid, oauth.phoneUser, "the website app's openid is its own")
  t.match(grant, { unionid: /^o/, scope: 'snsapi_login' })
  const info = (accessToken: unknown, who = openid) => oauth.handle('sns/userinfo', { access_token: String(accessToken), openid: who })
  t.match(info(grant.access_token), { openid, nickname: 'Zhang Wei', sex: 0, province: '', headimgurl: /^https:\/\//, privilege: [], unionid: grant.unionid })
  t.match(info(grant.access_token, 'o-other'), { errcode: 40003 })
  t.match(info('made-up'), { errcode: 40001 })
  t.match(oauth.handle('sns/userinfo', { openid }), { errcode: 41001 })

  const refresh = (token: unknown) => oauth.handle('sns/oauth2/refresh_token', { appid: OPEN.appId, grant_type: 'refresh_token', refresh_token: String(token) })
  t.match(refresh(grant.refresh_token), { access_token: grant.access_token, refresh_token: grant.refresh_token }, 'a live token is kept (and extended)')
  oauth.expireAccessTokens()
  t.match(info(grant.access_token), { errcode: 42001 })
  const renewed = refresh(grant.refresh_token)
  t.not(renewed.access_token, grant.access_token, 'an expired one is replaced')
  t.match(info(renewed.access_token), { openid })
  t.match(oauth.handle('sns/oauth2/refresh_token', { appid: OPEN.appId, grant_type: 'refresh_token' }), { errcode: 41003 })
  t.match(refresh('made-up'), { errcode: 40030 })
  clock.now += 30 * 24 * 3600 * 1000
  t.match(refresh(grant.refresh_token), { errcode: 42002 }, 'after 30 days')
  oauth.revokeRefreshTokens()
  t.match(refresh(grant.refresh_token), { errcode: 40030 })
})

t.test('snsapi_base tokens read no profile; a snapshot visitor gets a virtual openid', async (t) => {
  const oauth = emulatorAt({ now: Date.now() })
  const base = exchange(oauth, codeFor(oauth, 'oauth2', { scope: 'snsapi_base' }))
  t.equal(base.unionid, undefined, 'snsapi_base: no unionid')
  t.match(oauth.handle('sns/userinfo', { access_token: String(base.access_token), openid: String(base.openid) }), { errcode: 48001 })
  const snapshot = exchange(oauth, codeFor(oauth, 'oauth2', { snapshot: true }))
  t.equal(snapshot.is_snapshotuser, 1)
  t.not(snapshot.openid, oauth.phoneUser)
  t.equal(snapshot.unionid, undefined)
  t.equal(exchange(oauth, codeFor(oauth, 'oauth2')).is_snapshotuser, undefined, 'absent unless 1')
})

t.test('authorize requests WeChat refuses on its own page', async (t) => {
  const oauth = emulatorAt({ now: Date.now() })
  const refused = (page: AuthorizePage, overrides: Record<string, string>) => {
    const checked = oauth.checkAuthorize(page, authorizeQuery(page, overrides))
    return checked.ok ? null : checked.refusal.errcode
  }
  t.equal(refused('oauth2', {}), null)
  t.equal(refused('oauth2', { appid: OPEN.appId, scope: 'snsapi_base' }), 10016, "a website app's appid on the Official Account's page")
  t.equal(refused('qrconnect', { appid: MP.appId }), 10012, 'qrconnect needs a website app')
  t.equal(refused('oauth2', { scope: 'snsapi_login' }), 10005)
  t.equal(refused('qrconnect', { scope: 'snsapi_userinfo' }), 10005)
  t.equal(refused('oauth2', { scope: '' }), 10010)
  t.equal(refused('oauth2', { redirect_uri: '' }), 10011)
  t.equal(refused('oauth2', { redirect_uri: 'javascript:alert(1)' }), 10003)
  t.equal(refused('oauth2', { state: 'has-dash' }), 10013)
  t.equal(refused('oauth2', { response_type: 'token' }), 10004)
})

t.test('over HTTP: snsapi_base skips the screen; consent lists the test users; -1 faults; declining', async (t) => {
  const emulator = await startEmulator(t, { openApp: OPEN })
  const authorize = (page: AuthorizePage, overrides: Record<string, string> = {}) =>
    fetch(`${emulator.url}/connect/${page === 'oauth2' ? 'oauth2/authorize' : 'qrconnect'}?${new URLSearchParams(authorizeQuery(page, overrides)).toString()}`, { redirect: 'manual' })

  const base = await authorize('oauth2', { scope: 'snsapi_base' })
  t.equal(base.status, 302)
  const back = new URL(base.headers.get('location') ?? '')
  t.equal(back.searchParams.get('state'), 'abcDEF123')
  t.ok(back.searchParams.get('code'))

  const consent = await authorize('oauth2')
  t.equal(consent.status, 200)
  const html = await consent.text()
  for (const user of emulator.emulator.users) t.match(html, `value="${user.openid}"`, `offers ${user.nickname}`)
  t.match(html, /name="snapshot"/, 'snsapi_userinfo offers snapshot mode')
  t.match(consent.headers.get('content-security-policy'), /default-src 'none'/)

  const website = await (await authorize('qrconnect')).text()
  t.match(website, /action="qrconnect"/)
  t.notMatch(website, /name="snapshot"/)

  const bad = await authorize('oauth2', { appid: OPEN.appId })
  t.equal(bad.status, 400)
  t.match(await bad.text(), /10016/)

  const declined = await fetch(`${emulator.url}/connect/qrconnect`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...authorizeQuery('qrconnect'), openid: emulator.emulator.users[1]?.openid ?? '', decision: 'deny' }).toString()
  })
  t.equal(declined.status, 302)
  t.same([...new URL(declined.headers.get('location') ?? '').searchParams.keys()], ['state'], 'a refusal carries the state only')

  const fault = await fetch(`${emulator.url}/_control/oauth/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api: 'sns/userinfo', errcode: -1, times: 1 })
  })
  t.equal(fault.status, 201)
  const busy = await (await fetch(`${emulator.url}/sns/userinfo?access_token=x&openid=y`)).json()
  t.match(busy, { errcode: -1 })
  t.match(await (await fetch(`${emulator.url}/sns/userinfo?access_token=x&openid=y`)).json(), { errcode: 40001 }, 'once')
  t.match(await (await fetch(`${emulator.url}/_control/oauth/counters`)).json(), { codesIssued: 1, userInfoCalls: 2 })
})
