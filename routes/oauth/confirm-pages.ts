import type { LoginRequestFacts } from '../../src/oauth/answers.js'
import type { ConfirmDecision } from '../../src/oauth/confirm-purpose.js'
import { escapeHtml } from '../../src/html.js'
import { layout } from './pages.js'

/** Beijing time, as the visitor's phone most likely shows it: UTC+8, all year. */
function beijingTime (epochMs: number): string {
  return new Date(epochMs + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ')
}

const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/MicroMessenger\/([\d.]+)/, 'WeChat'],
  [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/(?:OPR|Opera)\/(\d+)/, 'Opera'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/(?:Chrome|CriOS)\/(\d+)/, 'Chrome'],
  [/Version\/([\d.]+).*Safari\//, 'Safari']
]
const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/Windows NT/, 'Windows'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Mac OS X/, 'macOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux']
]

/** Of a User-Agent nothing is known of: enough to tell it apart, too little to write the visitor a message in it. */
const UNKNOWN_AGENT_SHOWN = 60

/**
 * "Chrome 126 · Windows" from a User-Agent; its first characters when neither is known (a script's
 * "python-requests/2.31" says enough, and a longer one is the requester's text, not ours to show).
 */
export function describeBrowser (userAgent: string | null): string | null {
  if (userAgent === null || userAgent === '') return null
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1]
  if (browser === undefined && system === undefined) {
    return userAgent.length > UNKNOWN_AGENT_SHOWN ? `${userAgent.slice(0, UNKNOWN_AGENT_SHOWN)}…` : userAgent
  }
  const version = browser === undefined ? undefined : browser[0].exec(userAgent)?.[1]?.split('.')[0]
  const name = browser === undefined ? undefined : `${browser[1]}${version === undefined ? '' : ` ${version}`}`
  return [name, system].filter((part) => part !== undefined).join(' · ')
}

function fact (zh: string, en: string, value: string): string {
  return `<dt>${escapeHtml(zh)} · ${escapeHtml(en)}</dt><dd>${escapeHtml(value)}</dd>`
}

/**
 * The scanner's confirmation page: who asked for this login (the page's origin, its browser and IP
 * address, when), and two buttons posting the sealed form back. Nothing in it runs a script.
 */
export function confirmPage ({ request, nickname, form }: { request: LoginRequestFacts, nickname: string, form: string }): string {
  const browser = describeBrowser(request.userAgent)
  const facts = [
    fact('网站（自报）', 'Website (as it says)', request.origin ?? '未知：不是由网页发起的 · unknown: no web page asked for it'),
    fact('浏览器（自报）', 'Browser (as it says)', browser ?? '未知 · unknown'),
    fact('IP 地址', 'IP address', request.ip ?? '未知 · unknown'),
    fact('时间', 'Time', `${beijingTime(request.requestedAt)}（北京时间 · Beijing time）`)
  ].join('\n')
  const who = nickname === '' ? '' : `<p>${escapeHtml(nickname)}，你刚刚扫码请求登录。· ${escapeHtml(nickname)}, you just scanned to log in.</p>\n`
  return layout('确认登录 · Confirm the login', `<h1>确认登录？</h1>
<h2>Log in on this browser?</h2>
${who}<dl>
${facts}
</dl>
<p class="warn">只有当上面是你自己面前正在使用的网站和电脑时才确认。如果二维码是别人发给你的，或你认不出这个网站，请拒绝。</p>
<p class="warn">Confirm only if this is the website and computer in front of you. If someone sent you the QR code, or you do not recognise the website, deny.</p>
<form method="post" action="confirm">
<input type="hidden" name="form" value="${escapeHtml(form)}">
<button type="submit" name="decision" value="confirm">确认登录 · Confirm</button>
<button type="submit" name="decision" value="deny" class="secondary">拒绝 · Deny</button>
</form>`, '<meta name="wechat-login-confirm" content="ask">\n')
}

const DECIDED: Readonly<Record<ConfirmDecision, { zh: string, en: string, zhDetail: string, enDetail: string }>> = {
  confirm: {
    zh: '已确认登录',
    en: 'You are logged in',
    zhDetail: '网站已登录，请回到电脑上继续。',
    enDetail: 'The website is logged in: go back to your computer.'
  },
  deny: {
    zh: '已拒绝登录',
    en: 'You denied the login',
    zhDetail: '网站没有登录。如果不是你本人发起的，说明有人试图冒用你的账号，你已阻止了它。',
    enDetail: 'The website was not logged in. If you did not start it, someone tried to log in as you, and you stopped them.'
  }
}

/** After the form: what was decided. `<meta name="wechat-login-confirm">` names it for scripts and tests. */
export function decidedPage (decision: ConfirmDecision): string {
  const text = DECIDED[decision]
  return layout(`${text.zh} · ${text.en}`, `<h1>${escapeHtml(text.zh)}</h1>
<h2>${escapeHtml(text.en)}</h2>
<p>${escapeHtml(text.zhDetail)}</p>
<p>${escapeHtml(text.enDetail)}</p>`, `<meta name="wechat-login-confirm" content="${decision === 'confirm' ? 'confirmed' : 'denied'}">\n`)
}
