import type { AuthorizeRefusal, AuthorizeRequest } from '../../src/emulator/oauth.js'
import type { TestUser } from '../../src/emulator/users.js'
import { escapeHtml } from '../../src/html.js'
import { layout } from './pages.js'

/** The authorize request travels through the consent form as hidden fields, as WeChat's page keeps it. */
function hiddenFields (request: AuthorizeRequest): string {
  const fields: Record<string, string> = {
    appid: request.appId,
    redirect_uri: request.redirectUri,
    response_type: 'code',
    scope: request.scope,
    state: request.state
  }
  return Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('\n')
}

function userChoice (user: TestUser, checked: boolean): string {
  return `<label class="user">
<input type="radio" name="openid" value="${escapeHtml(user.openid)}"${checked ? ' checked' : ''}>
<span class="who"><span class="name">${escapeHtml(user.nickname)}</span><span class="meta">${user.unionid === null ? 'no unionid' : 'has unionid'}</span></span>
</label>`
}

function siteOf (request: AuthorizeRequest): string {
  return new URL(request.redirectUri).host
}

/**
 * connect/oauth2/authorize with snsapi_userinfo: WeChat's consent sheet ("… 申请获取你的昵称、头像").
 * connect/qrconnect: the website's QR, here already "scanned": the phone's confirmation instead.
 */
export function consentPage (request: AuthorizeRequest, users: readonly TestUser[], phoneUser: string): string {
  const choices = users.map((user) => userChoice(user, user.openid === phoneUser)).join('\n')
  const website = request.page === 'qrconnect'
  const snapshot = request.scope === 'snsapi_userinfo'
    ? `<fieldset>
<legend>Snapshot mode · 快照模式</legend>
<label class="user"><input type="checkbox" name="snapshot" value="1"><span class="who"><span class="name">Only preview the page</span><span class="meta">is_snapshotuser: 1, a virtual openid, no authorization</span></span></label>
</fieldset>`
    : ''
  return layout(website ? 'Website login · WeChat emulator' : 'Authorize · WeChat emulator', `<section class="card">
<h1>${website ? '网站应用登录 · Log in to a website' : '授权 · Authorize'}</h1>
<p><code>${escapeHtml(siteOf(request))}</code> ${website
    ? '请求使用微信登录 · asks to log you in with WeChat (as if you scanned its QR and confirmed on the phone).'
    : '申请获取你的昵称、头像 · asks for your nickname and avatar.'}</p>
<form method="post" action="${website ? 'qrconnect' : 'authorize'}">
${hiddenFields(request)}
<fieldset>
<legend>Test user · 测试用户</legend>
${choices}
</fieldset>
${snapshot}
<button type="submit" name="decision" value="allow">${website ? '确认登录 · Log in' : '允许 · Allow'}</button>
<p></p>
<button type="submit" name="decision" value="deny" class="secondary">${website ? '取消 · Cancel' : '拒绝 · Deny'}</button>
</form>
</section>`)
}

/** WeChat's own error page for a malformed authorize request: it does not redirect. */
export function authorizeErrorPage (refusal: AuthorizeRefusal): string {
  return layout('Error · WeChat emulator', `<section class="card">
<h1 class="bad">${escapeHtml(String(refusal.errcode))}</h1>
<p>${escapeHtml(refusal.message)}</p>
</section>`)
}
