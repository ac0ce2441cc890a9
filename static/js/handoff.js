// @ts-check
/**
 * Hands the one-time code to the embedding site: a 'wechat-login' event in the page, and a
 * postMessage to the window that opened it (a popup) or the page that frames it (an iframe), only
 * on an origin the service allows.
 */
import { fetchPageConfig } from './api.js'

/** @type {ReturnType<typeof fetchPageConfig> | null} */
let pageConfig = null

/** Fetched once, while the QR is made, so the code is not held up by it. */
export function loadPageConfig () {
  pageConfig ??= fetchPageConfig()
  return pageConfig
}

/**
 * Tells the embedding site. targetOrigin is never "*": the code is a credential, and "*" would
 * deliver it to whatever document the opener or parent window holds by then (it may have navigated
 * to another site). With an explicit origin the browser drops the message unless the window is
 * there. `?origin=` lets a site on another origin open or frame this page, but only an origin the
 * service allows (ALLOWED_ORIGINS): a phishing site embedding this page with its own origin would
 * otherwise receive a code that the real site's frontend would happily exchange.
 * @param {string} code
 * @param {Element} element where the 'wechat-login' event starts (it bubbles)
 * @returns {Promise<boolean>} whether an opener or a parent was told
 */
export async function announce (code, element) {
  element.dispatchEvent(new CustomEvent('wechat-login', { detail: { code }, bubbles: true }))
  const origin = targetOrigin()
  const windows = embedders()
  if (windows.length === 0 || origin === null) return false
  if (origin !== location.origin && !(await loadPageConfig()).allowedOrigins.includes(origin)) return false
  let told = false
  for (const target of windows) {
    try {
      target.postMessage({ type: 'wechat-login', code }, origin)
      told = true
    } catch {
      // A window gone meanwhile: the other may still hear.
    }
  }
  return told
}

/** The windows that embed this page: its opener (a popup) and its parent (an iframe). */
function embedders () {
  /** @type {Window[]} */
  const windows = []
  const opener = /** @type {Window | null} */ (window.opener)
  if (opener !== null && !opener.closed) windows.push(opener)
  if (window.parent !== window) windows.push(window.parent)
  return windows
}

/** `?origin=` when given and well-formed; otherwise our own; null for a malformed one (tell nobody). */
function targetOrigin () {
  const given = new URLSearchParams(location.search).get('origin')
  if (given === null || given === '') return location.origin
  try {
    const url = new URL(given)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : null
  } catch {
    return null
  }
}
