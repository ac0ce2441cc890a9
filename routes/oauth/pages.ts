import { createHash } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import { escapeHtml } from '../../src/html.js'
import type { CallbackAnswer, RefusalReason } from '../../src/oauth/answers.js'

/**
 * The pages a visitor may see on the OAuth routes: refusals (Chinese and English, a "start again"
 * link when there is a way to) and the popup's answer. Everything inserted is escaped; the one
 * style block and the one script are constant, allowed by their hashes, nothing else runs.
 */

/** Refusals of the routes themselves, before any state exists. */
export type RouteRefusal = 'bad_request' | 'return_to_refused' | 'scope_not_allowed' | 'rate_limited' | 'unavailable' | 'internal_error'
export type PageReason = RefusalReason | RouteRefusal

interface PageText {
  status: number
  zh: string
  en: string
  zhDetail: string
  enDetail: string
}

const TEXT: Readonly<Record<PageReason, PageText>> = {
  unknown_state: {
    status: 400,
    zh: '登录链接无效',
    en: 'This login link is not valid',
    zhDetail: '它可能已经过期，或不是由本网站发起的。请回到网站重新登录。',
    enDetail: 'It may have expired, or was not started by this website. Go back to the website and log in again.'
  },
  expired_state: {
    status: 400,
    zh: '登录已超时',
    en: 'The login took too long',
    zhDetail: '授权需要在几分钟内完成。请重新开始。',
    enDetail: 'The authorization has to finish within a few minutes. Please start again.'
  },
  foreign_browser: {
    status: 403,
    zh: '请在发起登录的浏览器中完成',
    en: 'Finish the login in the browser that started it',
    zhDetail: '为了你的安全，登录只能在发起它的浏览器中完成。',
    enDetail: 'For your safety, a login can only finish in the browser where it began.'
  },
  state_used: {
    status: 400,
    zh: '该登录链接已使用',
    en: 'This login link was already used',
    zhDetail: '每个登录链接只能使用一次。请重新开始。',
    enDetail: 'Each login link works once. Please start again.'
  },
  in_progress: {
    status: 409,
    zh: '登录仍在处理中',
    en: 'The login is still being processed',
    zhDetail: '请稍候片刻，或重新开始。',
    enDetail: 'Wait a moment, or start again.'
  },
  declined: {
    status: 403,
    zh: '你已取消授权',
    en: 'You declined the authorization',
    zhDetail: '没有授权就无法登录。如需登录，请重新开始并同意授权。',
    enDetail: 'Without your authorization there is no login. To log in, start again and allow it.'
  },
  code_refused: {
    status: 400,
    zh: '授权已失效',
    en: 'This authorization is no longer valid',
    zhDetail: '微信的授权码只能使用一次，并在几分钟后过期。请重新开始。',
    enDetail: "WeChat's authorization code works once and expires after a few minutes. Please start again."
  },
  snapshot_user: {
    status: 403,
    zh: '你正在预览页面，尚未授权',
    en: 'You are previewing this page and have not authorized',
    zhDetail: '请点击页面底部的“使用完整服务”，然后重新登录。',
    enDetail: 'Tap “使用完整服务” (use the full service) at the bottom of the page, then log in again.'
  },
  flow_unavailable: {
    status: 404,
    zh: '该登录方式未启用',
    en: 'This way of logging in is not enabled',
    zhDetail: '请使用网站提供的其他登录方式。',
    enDetail: 'Use another way of logging in that the website offers.'
  },
  wechat_error: {
    status: 502,
    zh: '微信暂时无法完成登录',
    en: 'WeChat could not complete the login',
    zhDetail: '请稍后重试。如果问题持续，请联系网站。',
    enDetail: 'Please try again later. If it keeps failing, tell the website.'
  },
  wechat_unreachable: {
    status: 502,
    zh: '暂时无法连接微信',
    en: 'WeChat could not be reached',
    zhDetail: '请稍后重试。',
    enDetail: 'Please try again in a moment.'
  },
  not_your_scan: {
    status: 403,
    zh: '这不是你扫码的登录',
    en: 'This is not a login you scanned',
    zhDetail: '只有扫描该二维码的人可以确认登录。如果链接是别人发给你的，请忽略它。',
    enDetail: 'Only the person who scanned the QR code can confirm this login. If someone sent you this link, ignore it.'
  },
  login_finished: {
    status: 409,
    zh: '该登录已处理',
    en: 'This login was already decided',
    zhDetail: '它已被确认或拒绝，无需再操作。',
    enDetail: 'It was already confirmed or denied: there is nothing left to do.'
  },
  login_expired: {
    status: 410,
    zh: '二维码已过期',
    en: 'The QR code has expired',
    zhDetail: '请在网站上刷新二维码，重新扫码。',
    enDetail: 'Refresh the QR code on the website and scan it again.'
  },
  scan_not_seen: {
    status: 409,
    zh: '尚未收到你的扫码',
    en: 'Your scan has not arrived yet',
    zhDetail: '请稍候片刻，再打开一次。',
    enDetail: 'Wait a moment, then open it again.'
  },
  bad_request: {
    status: 400,
    zh: '登录请求无效',
    en: 'This login request is not valid',
    zhDetail: '请回到网站重新登录。',
    enDetail: 'Go back to the website and log in again.'
  },
  return_to_refused: {
    status: 400,
    zh: '不允许返回到该地址',
    en: 'This return address is not allowed',
    zhDetail: '登录后只能返回到已登记的网站。',
    enDetail: 'A login may only return to a registered website (ALLOWED_RETURN_ORIGINS).'
  },
  scope_not_allowed: {
    status: 400,
    zh: '不支持该授权范围',
    en: 'This scope is not available for this way of logging in',
    zhDetail: '公众号登录支持 snsapi_base 和 snsapi_userinfo；网站扫码登录支持 snsapi_login。',
    enDetail: 'OAuth inside WeChat takes snsapi_base or snsapi_userinfo; the website QR takes snsapi_login.'
  },
  rate_limited: {
    status: 429,
    zh: '尝试次数过多',
    en: 'Too many attempts',
    zhDetail: '请稍等一分钟后重试。',
    enDetail: 'Wait a minute, then try again.'
  },
  unavailable: {
    status: 503,
    zh: '服务暂时不可用',
    en: 'The service is briefly unavailable',
    zhDetail: '请稍后重试。',
    enDetail: 'Please try again in a moment.'
  },
  internal_error: {
    status: 500,
    zh: '出错了',
    en: 'Something went wrong',
    zhDetail: '请稍后重试。',
    enDetail: 'Please try again later.'
  }
}

export function pageStatus (reason: PageReason): number {
  return TEXT[reason].status
}

const STYLE = `*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,BlinkMacSystemFont,"PingFang SC","Helvetica Neue",Arial,sans-serif;background:#f5f5f5;color:#191919}
main{max-width:480px;margin:0 auto;padding:32px 16px}
.card{background:#fff;border-radius:10px;padding:20px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;font-weight:400;color:#555;margin:0 0 12px}
p{margin:8px 0;overflow-wrap:anywhere}
.muted{color:#888;font-size:13px}
a.button{display:block;text-align:center;border-radius:8px;padding:12px;margin-top:16px;background:#07c160;color:#fff;text-decoration:none;font-weight:600}
button{display:block;width:100%;border:0;border-radius:8px;padding:12px;margin-top:12px;font:inherit;font-weight:600;background:#07c160;color:#fff}
button.secondary{background:#f2f2f2;color:#191919}
dl{margin:12px 0}dt{color:#888;font-size:13px;margin-top:8px}dd{margin:0;overflow-wrap:anywhere}
.warn{color:#a15c00}`

/** Reads the page's data block, tells the opener (at the return_to origin only) and closes; without an opener it goes to return_to. */
const POPUP_SCRIPT = `(function () {
  var data = JSON.parse(document.getElementById('wechat-login').textContent);
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage(data.message, data.targetOrigin);
    window.close();
  } else {
    window.location.replace(data.fallback);
  }
})();`

function cspHash (text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`
}

const STYLE_HASH = cspHash(STYLE)
/** The popup script's CSP source, for tests and for anyone checking the policy. */
export const POPUP_SCRIPT_HASH = cspHash(POPUP_SCRIPT)
const BASE_CSP = `default-src 'none'; style-src ${STYLE_HASH}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
export const PAGE_CSP = BASE_CSP
export const POPUP_CSP = `${BASE_CSP}; script-src ${POPUP_SCRIPT_HASH}`
/** A page with a form that posts back to us (the confirmation page): still no script at all. */
export const FORM_CSP = BASE_CSP.replace("form-action 'none'", "form-action 'self'")

export function layout (title: string, body: string, extraHead = ''): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
${extraHead}<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<section class="card">
${body}
</section>
</main>
</body>
</html>
`
}

export function refusalPage (reason: PageReason, { errcode, restart }: { errcode?: number, restart?: string } = {}): string {
  const text = TEXT[reason]
  const code = errcode === undefined ? '' : `\n<p class="muted">微信错误码 / WeChat errcode ${escapeHtml(String(errcode))}</p>`
  const again = restart === undefined ? '' : `\n<a class="button" href="${escapeHtml(restart)}">重新开始 · Start again</a>`
  return layout(`${text.zh} · ${text.en}`, `<h1>${escapeHtml(text.zh)}</h1>
<h2>${escapeHtml(text.en)}</h2>
<p>${escapeHtml(text.zhDetail)}</p>
<p>${escapeHtml(text.enDetail)}</p>${code}${again}`, `<meta name="wechat-login-error" content="${escapeHtml(reason)}">\n`)
}

/** JSON inside <script>: nothing in it can close the element or start markup. */
function scriptJson (value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

export function popupPage (answer: Extract<CallbackAnswer, { kind: 'post_message' }>): string {
  const data = { targetOrigin: answer.targetOrigin, message: answer.message, fallback: answer.fallback }
  return layout('已登录 · Logged in', `<h1>已登录</h1>
<h2>Logged in</h2>
<p>正在返回网站，此窗口将自动关闭。</p>
<p>Returning to the website; this window closes by itself.</p>
<script type="application/json" id="wechat-login">${scriptJson(data)}</script>
<script>${POPUP_SCRIPT}</script>`)
}

/** A page with its own policy (replacing the app-wide CSP) and no caching: every one is single-use. */
export function sendPage (reply: FastifyReply, status: number, html: string, csp = PAGE_CSP): FastifyReply {
  return reply.code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('cache-control', 'no-store')
    .send(html)
}

export function sendRefusal (reply: FastifyReply, reason: PageReason, extra: { errcode?: number, restart?: string } = {}): FastifyReply {
  return sendPage(reply, pageStatus(reason), refusalPage(reason, extra))
}
