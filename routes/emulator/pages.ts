import type { FastifyReply } from 'fastify'
import type { PushMode } from '../../src/emulator/push.js'
import { BROKEN_REPLY_TEXT, type PhoneMessage } from '../../src/emulator/reply.js'
import type { QrCodeRecord } from '../../src/emulator/qrcodes.js'
import type { TestUser } from '../../src/emulator/users.js'
import { escapeHtml } from '../../src/html.js'

/**
 * The emulator's "phone": plain HTML forms, inline CSS, no script and nothing external, so the pages
 * work under the strictest CSP and on any phone on the LAN.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 -apple-system,BlinkMacSystemFont,"PingFang SC","Helvetica Neue",Arial,sans-serif;background:#ededed;color:#191919}
header{background:#07c160;color:#fff;padding:14px 16px;font-weight:600}
header small{display:block;font-weight:400;opacity:.85;font-size:13px}
main{max-width:480px;margin:0 auto;padding:12px}
.card{background:#fff;border-radius:10px;padding:16px;margin-bottom:12px}
h1{font-size:19px;margin:0 0 8px}
p{margin:6px 0}
code{font:13px ui-monospace,Menlo,Consolas,monospace;word-break:break-all;background:#f4f4f4;padding:1px 4px;border-radius:4px}
/* A fieldset is min-content wide by default: the nowrap openids pushed the badges off a 375 px screen. */
fieldset{border:0;margin:12px 0;padding:0;min-width:0}
legend{font-weight:600;margin-bottom:6px}
label.user{display:flex;align-items:center;gap:10px;padding:12px 4px;border-top:1px solid #eee;cursor:pointer}
label.user:first-of-type{border-top:0}
label.user input{width:20px;height:20px;flex:none}
.who{flex:1;min-width:0}
.name{font-weight:600}
.meta{display:block;color:#888;font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.badge{flex:none;font-size:12px;padding:2px 8px;border-radius:10px;background:#f0f0f0;color:#666}
.badge.follows{background:#e6f8ee;color:#06ad56}
button{display:block;width:100%;border:0;border-radius:8px;padding:14px;font-size:17px;font-weight:600;background:#07c160;color:#fff;cursor:pointer}
button.secondary{background:#f2f2f2;color:#191919}
.ok{color:#06ad56}.bad{color:#fa5151}
a{color:#576b95}
.bubble{background:#95ec69;border-radius:8px;padding:10px 12px;white-space:pre-wrap;overflow-wrap:anywhere}
.bubble.broken{background:#fff;border:1px solid #eee;color:#888}
footer{color:#999;font-size:12px;text-align:center;padding:8px 12px 24px}
`

/** Every emulator page: its own strict CSP (no script at all), never cached. */
export function sendPage (reply: FastifyReply, status: number, html: string) {
  return reply.code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('cache-control', 'no-store')
    .send(html)
}

export function layout (title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>WeChat emulator<small>A test phone for development. It impersonates WeChat: never run it in production.</small></header>
<main>
${content}
</main>
<footer>Pushes are signed with the webhook Token (and encrypted with the EncodingAESKey in compatible and safe mode), like WeChat's.</footer>
</body>
</html>
`
}

function remaining (code: QrCodeRecord, now: number): string {
  if (code.expiresAt === null) return 'permanent code'
  const seconds = Math.max(0, Math.round((code.expiresAt - now) / 1000))
  return seconds >= 120 ? `expires in ${Math.round(seconds / 60)} min` : `expires in ${seconds} s`
}

function userChoice (user: TestUser, checked: boolean): string {
  const ids = user.unionid === null ? 'no unionid' : 'has unionid'
  return `<label class="user">
<input type="radio" name="openid" value="${escapeHtml(user.openid)}"${checked ? ' checked' : ''}>
<span class="who"><span class="name">${escapeHtml(user.nickname)}</span><span class="meta">${escapeHtml(user.openid)} · ${ids}</span></span>
<span class="badge${user.following ? ' follows' : ''}">${user.following ? 'follows' : 'not following'}</span>
</label>`
}

const MODE_LABELS: Readonly<Record<PushMode, string>> = {
  plaintext: 'plaintext',
  compatible: 'compatible (plaintext + Encrypt)',
  safe: 'safe (Encrypt only)'
}

/** The console's message modes this emulator can push in; shown only when there is a choice. */
function modeChoices ({ mode, modes }: { mode: PushMode, modes: readonly PushMode[] }): string {
  if (modes.length < 2) return ''
  const options = modes.map((candidate) => `<label class="user">
<input type="radio" name="mode" value="${candidate}"${candidate === mode ? ' checked' : ''}>
<span class="who"><span class="name">${escapeHtml(MODE_LABELS[candidate])}</span></span>
</label>`).join('\n')
  return `<fieldset>
<legend>Message encryption</legend>
${options}
</fieldset>`
}

/** The page a QR code opens: pick who scans (and the encryption mode), then "Scan" (a form POST to ./scan). */
export function scanPage (code: QrCodeRecord, users: readonly TestUser[], now: number, push: { mode: PushMode, modes: readonly PushMode[] } = { mode: 'plaintext', modes: ['plaintext'] }): string {
  const choices = users.map((user, index) => userChoice(user, index === 0)).join('\n')
  return layout('Scan · WeChat emulator', `<section class="card">
<h1>Scan this QR code as…</h1>
<p>Scene <code>${escapeHtml(code.scene)}</code> · ${remaining(code, now)}</p>
<p>A user who does not follow yet follows now (event <code>subscribe</code>); a follower sends <code>SCAN</code>.</p>
<form method="post" action="scan">
<input type="hidden" name="ticket" value="${escapeHtml(code.ticket)}">
<fieldset>
<legend>Test user</legend>
${choices}
</fieldset>
${modeChoices(push)}
<button type="submit">Scan</button>
</form>
</section>`)
}

export interface ScanOutcome {
  ok: boolean
  heading: string
  detail: string
}

const LINK = /<a href="(https?:\/\/[^"<>]+)">([^<]*)<\/a>/g

/** A text message as WeChat shows it: plain text, and its <a href> links (http and https only) as links. */
function messageHtml (content: string): string {
  let html = ''
  let at = 0
  for (const match of content.matchAll(LINK)) {
    html += escapeHtml(content.slice(at, match.index))
    html += `<a href="${escapeHtml(match[1] ?? '')}" id="message-link">${escapeHtml(match[2] ?? '')}</a>`
    at = match.index + match[0].length
  }
  return html + escapeHtml(content.slice(at))
}

/** The account's message on the phone after the scan, if the service sent one (a passive reply). */
function phoneMessage (message: PhoneMessage | undefined): string {
  if (message === undefined || message.kind === 'none') return ''
  const bubble = message.kind === 'text'
    ? `<p class="bubble">${messageHtml(message.content)}</p>`
    : `<p class="bubble broken">${escapeHtml(BROKEN_REPLY_TEXT)}</p>\n<p class="bad">The service's reply cannot be shown: ${escapeHtml(message.reason)}.</p>`
  return `<section class="card">
<h1>Message from the Official Account · 公众号消息</h1>
${bubble}
</section>
`
}

/** After "Scan": what the service answered to the push (and the message the phone shows), or why nothing was pushed. */
export function resultPage (outcome: ScanOutcome, ticket: string | undefined, message?: PhoneMessage): string {
  const back = ticket === undefined ? '' : `<p><a href="scan?ticket=${encodeURIComponent(ticket)}">Back to the scan page</a></p>`
  return layout(`${outcome.ok ? 'Scanned' : 'Not scanned'} · WeChat emulator`, `${phoneMessage(message)}<section class="card">
<h1 class="${outcome.ok ? 'ok' : 'bad'}">${escapeHtml(outcome.heading)}</h1>
<p>${escapeHtml(outcome.detail)}</p>
${back}
</section>`)
}
