// @ts-check
/** The QR code, drawn in the page from what it encodes, so the visitor's browser never asks WeChat. */

/**
 * @typedef {import('./protocol.js').CreatedLogin} CreatedLogin
 * @typedef {{ toString (text: string, options: object): Promise<string> }} QrLibrary
 */

const QR_MODULE = '/vendor/qrcode.js' // built by `npm run build:static`
/** A library or an image that has not loaded by then will not: the image, or an error with "try again". */
const LOAD_TIMEOUT_MS = 10_000

/** @type {Promise<QrLibrary | null> | null} */
let qrLibrary = null

/** Loaded once, in parallel with the first login; if it fails, drawQr falls back to qrImageUrl. */
export function loadQrLibrary () {
  qrLibrary ??= within(import(QR_MODULE).then((module) => /** @type {QrLibrary} */ (module.default)), null)
  return qrLibrary
}

/**
 * Drawn here from qrUrl (no request to WeChat); the server's image only if the library did not load.
 * @param {Element} container
 * @param {CreatedLogin} login
 * @returns {Promise<boolean>} whether a QR is on screen
 */
export async function drawQr (container, login) {
  const library = await loadQrLibrary()
  if (library !== null) {
    try {
      const markup = await library.toString(login.qrUrl, {
        type: 'svg',
        margin: 2,
        // A screen is never smudged or torn: the lowest correction level gives the largest modules.
        errorCorrectionLevel: 'L',
        color: { dark: '#000000ff', light: '#ffffffff' }
      })
      // The library's own output, parsed as SVG (not HTML): no script can come of it.
      const svg = new DOMParser().parseFromString(markup, 'image/svg+xml').documentElement
      if (svg.namespaceURI === 'http://www.w3.org/2000/svg' && svg.localName === 'svg') {
        svg.setAttribute('aria-hidden', 'true')
        svg.setAttribute('focusable', 'false')
        container.replaceChildren(document.importNode(svg, true))
        return true
      }
    } catch {
      // Fall through to the image.
    }
  }
  if (!isHttpUrl(login.qrImageUrl)) return false
  const image = new Image()
  image.alt = ''
  image.referrerPolicy = 'no-referrer'
  image.src = login.qrImageUrl
  container.replaceChildren(image)
  return within(image.decode().then(() => true), false)
}

/**
 * `promise`'s value, or `fallback` if it fails or takes longer than LOAD_TIMEOUT_MS.
 * @template T @param {Promise<T>} promise @param {T} fallback @returns {Promise<T>}
 */
function within (promise, fallback) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), LOAD_TIMEOUT_MS)
    promise.then((value) => { clearTimeout(timer); resolve(value) }, () => { clearTimeout(timer); resolve(fallback) })
  })
}

/** The emulator's phone page, which demo mode links to; real WeChat URLs are never linked. @param {string} qrUrl */
export function isEmulatorQr (qrUrl) {
  try {
    return isHttpUrl(qrUrl) && new URL(qrUrl).pathname.includes('/_emulator/')
  } catch {
    return false
  }
}

/** @param {string} value */
function isHttpUrl (value) {
  try {
    const { protocol } = new URL(value)
    return protocol === 'https:' || protocol === 'http:'
  } catch {
    return false
  }
}
