// @ts-check
/**
 * What the visitor sees: index.html's elements, and the only code that changes them. Every state
 * is shown through render(); the single action button does what the last offer() said.
 */
import { Status } from './protocol.js'
import { expiresIn } from './text.js'

/**
 * @typedef {import('./protocol.js').LoginStatus} LoginStatus
 * @typedef {import('./text.js').Words} Words
 * @typedef {'loading' | 'error' | LoginStatus} ViewState #login's data-state: what the stylesheet and tests key on
 */

const els = {
  root: byId('login'),
  qr: byId('qr'),
  status: byId('status'),
  countdown: byId('countdown'),
  result: byId('result'),
  code: byId('code'),
  closeHint: byId('close-hint'),
  action: /** @type {HTMLButtonElement} */ (byId('action')),
  demoHint: byId('demo-hint'),
  demoLink: /** @type {HTMLAnchorElement} */ (byId('demo-link')),
  webLogin: byId('web-login'),
  webLoginButton: /** @type {HTMLButtonElement} */ (byId('web-login-button')),
  webLoginBlocked: byId('web-login-blocked')
}

/** The login card: where the 'wechat-login' event is dispatched. */
export const root = els.root
/** Where the QR code goes. */
export const qrContainer = els.qr

/** @type {(() => void) | null} */
let onAction = null
els.action.addEventListener('click', () => onAction?.())

/** @param {ViewState} state @param {Words} text */
export function render (state, [zh, en]) {
  // A repeated status (every reconnect re-sends it) must not make screen readers say it again.
  if (els.root.dataset.state === state && els.status.textContent === zh + en) return
  els.root.dataset.state = state
  els.root.setAttribute('aria-busy', String(state === 'loading'))
  const english = document.createElement('span')
  english.className = 'en'
  english.lang = 'en'
  english.textContent = en
  const chinese = document.createElement('span')
  chinese.textContent = zh
  els.status.replaceChildren(chinese, english)
  if (state === 'loading') {
    els.qr.replaceChildren()
    els.result.hidden = true
    els.closeHint.hidden = true
    els.code.textContent = ''
  }
  const scannable = state === Status.pending || state === Status.scanned
  if (state === 'loading' || scannable) {
    els.action.hidden = true
    onAction = null
  }
  // The phone-page link is only of use while the QR can still be scanned.
  if (!scannable) els.demoHint.hidden = true
}

/** The action button: `handler` null shows it disabled. @param {Words} label @param {(() => void) | null} handler */
export function offer ([zh, en], handler) {
  els.action.textContent = `${zh} · ${en}`
  els.action.disabled = handler === null
  els.action.hidden = false
  onAction = handler
}

/** Not in the live region: a screen reader announcing every second would drown the status. @param {number} seconds */
export function setCountdown (seconds) {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = String(seconds % 60).padStart(2, '0')
  const clock = h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
  const [zh, en] = expiresIn(clock)
  const english = document.createElement('span')
  english.lang = 'en'
  english.textContent = en
  els.countdown.replaceChildren(`${zh} · `, english)
  els.countdown.hidden = false
}

export function hideCountdown () {
  els.countdown.hidden = true
}

/** A link to the QR's target under the QR (demo mode's phone page); null hides it. @param {string | null} href */
export function showDemoLink (href) {
  if (href !== null) els.demoLink.href = href
  els.demoHint.hidden = href === null
}

/** @param {string} code */
export function showCode (code) {
  els.code.textContent = code
  els.result.hidden = false
}

/** @param {boolean} told whether the opener or the parent frame was sent the code */
export function showOpenerTold (told) {
  els.closeHint.hidden = !told
  // For the embedding site (and tests): whether the opener or the parent was sent the code.
  els.root.dataset.opener = told ? 'told' : 'not-told'
}

/**
 * Offers the website-QR popup beside the QR code; `open` returns false when the popup was blocked.
 * @param {() => boolean} open
 */
export function offerWebLogin (open) {
  els.webLoginButton.addEventListener('click', () => { els.webLoginBlocked.hidden = open() })
  els.webLogin.hidden = false
}

/** @param {string} id */
function byId (id) {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`#${id} is missing from index.html`)
  return element
}
