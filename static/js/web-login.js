// @ts-check
/**
 * The Open Platform's website-QR login (connect/qrconnect), in a popup as WeChat's own snippet
 * opens it. The service's authorize route runs the OAuth flow; its last page, in the popup, posts
 * `{type: "wechat-login", code}` to this page (return_to is our own origin) and closes. The same
 * one-time code as follow-scan's, so the page hands it over the same way.
 */

/** WeChat's website QR page is laid out for about this size. */
const POPUP_WIDTH = 800
const POPUP_HEIGHT = 460

/** @type {((event: MessageEvent) => void) | null} */
let listening = null

/**
 * Opens the popup and calls `onCode` with the code it posts. Only a message from that popup, on our
 * own origin, counts: any other window could post a 'wechat-login' message too. A popup closed
 * without a code says nothing (no event crosses origins): the button stays, and opening it again
 * replaces this wait. Returns false when the browser blocked the popup.
 * @param {string} webLoginUrl GET /api/login/config's webLoginUrl (it already says display=popup)
 * @param {(code: string) => void} onCode
 * @returns {boolean}
 */
export function logInWithWebsiteQr (webLoginUrl, onCode) {
  const url = new URL(webLoginUrl, location.href)
  url.searchParams.set('return_to', `${location.origin}/`)
  const left = Math.max(0, Math.round(window.screenX + (window.outerWidth - POPUP_WIDTH) / 2))
  const top = Math.max(0, Math.round(window.screenY + (window.outerHeight - POPUP_HEIGHT) / 2))
  const popup = window.open(url.toString(), 'wechat-website-login', `popup,width=${POPUP_WIDTH},height=${POPUP_HEIGHT},left=${left},top=${top}`)
  if (popup === null) return false
  if (listening !== null) window.removeEventListener('message', listening)
  /** @param {MessageEvent} event */
  const onMessage = (event) => {
    if (event.source !== popup || event.origin !== location.origin) return
    const data = event.data
    if (data === null || typeof data !== 'object' || data.type !== 'wechat-login' || typeof data.code !== 'string') return
    window.removeEventListener('message', onMessage)
    listening = null
    onCode(data.code)
  }
  listening = onMessage
  window.addEventListener('message', onMessage)
  return true
}
