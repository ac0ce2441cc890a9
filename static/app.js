// @ts-check
/**
 * The login page: creates a login, draws its QR code, follows its status over a WebSocket
 * (polling /api/login/status when sockets fail), and hands the one-time code to whoever opened
 * the page. The browser secret lives only in this module's memory: never in a URL, never stored.
 */

/**
 * @typedef {{ scene: string, secret: string, ticket: string, qrUrl: string, qrImageUrl: string, expiresIn: number, expiresAt: string }} CreatedLogin
 * @typedef {{ type: 'status', status: 'pending' | 'scanned' | 'confirmed' | 'expired', expiresIn: number, code?: string }} StatusMessage
 * @typedef {{ toString (text: string, options: object): Promise<string> }} QrLibrary
 * @typedef {[zh: string, en: string]} Words
 */

const API = '/api/login'
const POLL_INTERVAL_MS = 2000
/** Sockets that close before delivering any status, in a row, before we give up on them. */
const SOCKET_FAILURES_BEFORE_POLLING = 3
const BACKOFF_BASE_MS = 500
const BACKOFF_MAX_MS = 10_000
const REQUEST_TIMEOUT_MS = 10_000
/** After the local countdown ends, how long the server gets to say "expired" itself. */
const EXPIRY_GRACE_MS = 1500
const MAX_RETRY_AFTER_S = 300

/** @type {Record<string, Words>} */
const TEXT = {
  loading: ['正在生成二维码…', 'Generating the QR code…'],
  pending: ['请使用微信扫一扫登录', 'Scan the QR code with WeChat'],
  scanned: ['已扫码，请在手机上确认', 'Scanned — please confirm on your phone'],
  confirmed: ['登录成功', 'Logged in'],
  expired: ['二维码已过期，请刷新', 'The QR code has expired'],
  network: ['网络连接失败，请检查网络后重试', 'Network error — check your connection and try again'],
  unavailable: ['服务暂时不可用，请稍后重试', 'The service is unavailable — please try again'],
  noQr: ['二维码无法显示，请重试', 'The QR code could not be shown — please try again'],
  codeGone: ['登录码已失效，请重新扫码', 'The login code is no longer valid — please scan again']
}

// Loaded in parallel with the first login; if it fails, the page falls back to qrImageUrl.
const QR_MODULE = '/vendor/qrcode.js' // built by `npm run build:static`
/** @type {Promise<QrLibrary | null>} */
const qrLibrary = import(QR_MODULE)
  .then((module) => /** @type {QrLibrary} */ (module.default))
  .catch(() => null)
/** The origins the service lets receive a code (ALLOWED_ORIGINS), fetched while the QR is made. */
/** @type {Promise<string[]>} */
const allowedOrigins = fetch(`${API}/config`)
  .then((response) => response.ok ? response.json() : { allowedOrigins: [] })
  .then((config) => Array.isArray(config.allowedOrigins) ? config.allowedOrigins.filter((origin) => typeof origin === 'string') : [])
  .catch(() => [])

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
  demoLink: /** @type {HTMLAnchorElement} */ (byId('demo-link'))
}

/** @type {(() => void) | null} */
let onAction = null
els.action.addEventListener('click', () => onAction?.())

/** @type {Attempt | null} */
let current = null

function start () {
  current?.stop()
  current = new Attempt()
  void current.run()
}

/** One login from creation to a final state; a refresh makes a new Attempt and stops this one. */
class Attempt {
  stopped = false
  final = false
  deadline = 0
  /** @type {CreatedLogin | null} */
  login = null
  /** @type {{ stop (): void } | null} */
  watcher = null
  /** @type {Set<ReturnType<typeof setTimeout>>} */
  timers = new Set()

  async run () {
    render('loading', TEXT.loading)
    /** @type {CreatedLogin} */
    let login
    try {
      login = await createLogin()
    } catch (error) {
      if (!this.stopped) this.failed(error)
      return
    }
    if (this.stopped) return
    this.login = login
    const drawn = await drawQr(login)
    if (this.stopped) return
    if (!drawn) {
      this.showError(TEXT.noQr)
      return
    }
    this.setDeadline(login.expiresIn)
    render('pending', TEXT.pending)
    showDemoHint(login.qrUrl)
    this.tick()
    this.watcher = watch(login, {
      onStatus: (message) => this.apply(message),
      onGone: () => this.expired()
    })
  }

  /** @param {StatusMessage} message */
  apply (message) {
    if (this.stopped || this.final) return
    switch (message.status) {
      case 'pending':
      case 'scanned':
        this.setDeadline(message.expiresIn)
        render(message.status, TEXT[message.status] ?? TEXT.pending)
        return
      case 'confirmed':
        this.confirmed(message.code)
        return
      case 'expired':
        this.expired()
    }
  }

  /** @param {string | undefined} code */
  confirmed (code) {
    this.finish()
    if (code === undefined) {
      // Confirmed, but its one-time code is used or expired: nothing to hand over, so start again.
      render('expired', TEXT.codeGone)
      this.offer(['重新登录', 'Log in again'], start)
      return
    }
    render('confirmed', TEXT.confirmed)
    els.code.textContent = code
    els.result.hidden = false
    announce(code).then((notified) => {
      els.closeHint.hidden = !notified
      // For the embedding site (and tests): whether the opener was sent the code.
      els.root.dataset.opener = notified ? 'told' : 'not-told'
    }, () => {})
  }

  expired () {
    if (this.final) return
    this.finish()
    render('expired', TEXT.expired)
    this.offer(['刷新二维码', 'Refresh'], start)
  }

  /** @param {unknown} error */
  failed (error) {
    if (error instanceof ApiError && error.status === 429) {
      this.rateLimited(error.retryAfterSeconds ?? 10)
    } else if (error instanceof ApiError && error.body.error === 'wechat_error') {
      this.showError([`微信接口暂时不可用（错误码 ${error.body.errcode ?? '?'}）`, `WeChat is unavailable right now (errcode ${error.body.errcode ?? '?'})`])
    } else if (error instanceof ApiError) {
      this.showError(TEXT.unavailable)
    } else {
      this.showError(TEXT.network)
    }
  }

  /** @param {Words} text */
  showError (text) {
    this.finish()
    render('error', text)
    this.offer(['重试', 'Try again'], start)
  }

  /** The retry button waits out Retry-After, so a click cannot earn another 429. @param {number} seconds */
  rateLimited (seconds) {
    this.finish()
    render('error', ['请求过于频繁，请稍后重试', 'Too many attempts — please wait a moment'])
    const until = Date.now() + seconds * 1000
    const update = () => {
      const left = Math.ceil((until - Date.now()) / 1000)
      if (left <= 0) {
        this.offer(['重试', 'Try again'], start)
        return
      }
      this.offer([`${left} 秒后可重试`, `Retry in ${left} s`], null)
      this.later(update, 1000)
    }
    update()
  }

  /** @param {Words} label @param {(() => void) | null} handler */
  offer ([zh, en], handler) {
    els.action.textContent = `${zh} · ${en}`
    els.action.disabled = handler === null
    els.action.hidden = false
    onAction = handler
  }

  /** The server's expiresIn, not expiresAt: the visitor's clock may be wrong. @param {number} seconds */
  setDeadline (seconds) {
    const deadline = Date.now() + seconds * 1000
    // expiresIn is rounded up to whole seconds: ignore the jitter, keep the countdown steady.
    if (this.deadline === 0 || Math.abs(deadline - this.deadline) > 1500) this.deadline = deadline
  }

  tick () {
    if (this.final) return
    const left = this.deadline - Date.now()
    setCountdown(Math.max(0, Math.ceil(left / 1000)))
    if (left > 0) {
      this.later(() => this.tick(), left % 1000 || 1000)
    } else {
      this.later(() => void this.checkExpiry(), EXPIRY_GRACE_MS)
    }
  }

  /**
   * The countdown ran out and the server has not said "expired" (its push may be in flight, or
   * the socket down): ask once, so a confirmation that raced the deadline is not thrown away.
   */
  async checkExpiry () {
    if (this.final || this.login === null) return
    try {
      const message = await fetchStatus(this.login)
      if (message === null) this.expired()
      else if (message.status === 'pending' || message.status === 'scanned') {
        this.deadline = 0
        this.apply(message)
        this.tick()
        return
      } else this.apply(message)
    } catch {
      this.expired()
    }
  }

  finish () {
    this.final = true
    this.watcher?.stop()
    this.watcher = null
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    els.countdown.hidden = true
  }

  stop () {
    this.stopped = true
    this.finish()
  }

  /** @param {() => void} fn @param {number} ms */
  later (fn, ms) {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.stopped) fn()
    }, ms)
    this.timers.add(timer)
  }
}

/**
 * Follows one login: a WebSocket, reconnected with capped exponential backoff and jitter (the
 * server answers every subscribe with the current state, so nothing is lost across a drop); after
 * SOCKET_FAILURES_BEFORE_POLLING sockets in a row die before saying anything, or if WebSocket
 * cannot even be constructed, polling every POLL_INTERVAL_MS. The owner stops it on a final status.
 * @param {CreatedLogin} login
 * @param {{ onStatus (message: StatusMessage): void, onGone (): void }} handlers
 */
function watch (login, { onStatus, onGone }) {
  let stopped = false
  let polling = false
  let failures = 0
  let attempt = 0
  /** @type {WebSocket | null} */
  let socket = null
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null

  const socketUrl = new URL(`${API}/ws`, location.href)
  socketUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'

  function connect () {
    timer = null
    if (stopped) return
    /** @type {WebSocket} */
    let ws
    try {
      ws = new WebSocket(socketUrl)
    } catch {
      startPolling()
      return
    }
    socket = ws
    let delivered = false
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ type: 'subscribe', scene: login.scene, secret: login.secret }))
    })
    ws.addEventListener('message', (event) => {
      const message = parseJson(event.data)
      if (stopped || !isStatus(message)) return
      delivered = true
      failures = 0
      attempt = 0
      onStatus(message)
    })
    ws.addEventListener('close', (event) => {
      if (socket === ws) socket = null
      if (stopped) return
      if (event.code === 4404) {
        stop()
        onGone()
        return
      }
      if (!delivered) failures += 1
      if (failures >= SOCKET_FAILURES_BEFORE_POLLING) {
        startPolling()
        return
      }
      timer = setTimeout(connect, backoff(attempt))
      attempt += 1
    })
  }

  function startPolling () {
    if (stopped || polling) return
    polling = true
    poll()
  }

  async function poll () {
    timer = null
    if (stopped) return
    let delay = POLL_INTERVAL_MS
    try {
      const message = await fetchStatus(login)
      if (stopped) return
      if (message === null) {
        stop()
        onGone()
        return
      }
      onStatus(message)
    } catch (error) {
      // Transient: keep polling; the countdown ends this anyway when the QR expires.
      if (error instanceof ApiError && error.retryAfterSeconds !== null) delay = Math.max(delay, error.retryAfterSeconds * 1000)
    }
    if (!stopped) timer = setTimeout(poll, delay)
  }

  /** Back online: no reason to sit out the rest of a backoff. */
  function onOnline () {
    if (!stopped && !polling && timer !== null) {
      clearTimeout(timer)
      connect()
    }
  }

  function stop () {
    stopped = true
    if (timer !== null) clearTimeout(timer)
    timer = null
    window.removeEventListener('online', onOnline)
    if (socket !== null && socket.readyState <= WebSocket.OPEN) socket.close(1000)
    socket = null
  }

  window.addEventListener('online', onOnline)
  connect()
  return { stop }
}

/** Full jitter over the upper half: spreads a crowd of reconnecting pages. @param {number} attempt */
function backoff (attempt) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt)
  return ceiling / 2 + Math.random() * (ceiling / 2)
}

class ApiError extends Error {
  /** @param {number} status @param {{ error?: string, errcode?: number }} body @param {number | null} retryAfterSeconds */
  constructor (status, body, retryAfterSeconds) {
    super(`HTTP ${status}`)
    this.status = status
    this.body = body
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** @returns {Promise<CreatedLogin>} */
async function createLogin () {
  const response = await fetch(`${API}/qr`, {
    method: 'POST',
    cache: 'no-store',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  })
  if (response.status !== 201) throw await apiError(response)
  return response.json()
}

/** The same status object the socket pushes; null when the server no longer knows the login. @param {CreatedLogin} login */
async function fetchStatus (login) {
  const query = new URLSearchParams({ scene: login.scene })
  const response = await fetch(`${API}/status?${query}`, {
    // The secret travels in a header, never in the URL (URLs end up in logs and histories).
    headers: { authorization: `Bearer ${login.secret}` },
    cache: 'no-store',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
  })
  if (response.status === 404) return null
  if (!response.ok) throw await apiError(response)
  const message = await response.json()
  if (!isStatus(message)) throw new ApiError(response.status, {}, null)
  return message
}

/** @param {Response} response */
async function apiError (response) {
  const body = await response.json().catch(() => ({}))
  return new ApiError(response.status, body !== null && typeof body === 'object' ? body : {}, retryAfter(response))
}

/** Retry-After in seconds or as an HTTP date, bounded so a bad header cannot lock the page. @param {Response} response */
function retryAfter (response) {
  const value = response.headers.get('retry-after')
  if (value === null) return null
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000)
  return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_S) : null
}

/** Drawn here from qrUrl (no request to WeChat); the server's image only if the library did not load. @param {CreatedLogin} login */
async function drawQr (login) {
  const library = await qrLibrary
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
        els.qr.replaceChildren(document.importNode(svg, true))
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
  els.qr.replaceChildren(image)
  return image.decode().then(() => true, () => false)
}

/** The emulator's phone page is only a link away in demo mode; real WeChat URLs never show it. @param {string} qrUrl */
function showDemoHint (qrUrl) {
  let demo = false
  try {
    const url = new URL(qrUrl)
    demo = isHttpUrl(qrUrl) && url.pathname.includes('/_emulator/')
  } catch {
    demo = false
  }
  if (demo) els.demoLink.href = qrUrl
  els.demoHint.hidden = !demo
}

/**
 * Tells the embedding site. targetOrigin is never "*": the code is a credential, and "*" would
 * deliver it to whatever document the opener window holds by then (it may have navigated to
 * another site). With an explicit origin the browser drops the message unless the opener is there.
 * `?origin=` lets a site on another origin open this page, but only an origin the service allows
 * (ALLOWED_ORIGINS): a phishing site opening this page with its own origin would otherwise receive
 * a code that the real site's frontend would happily exchange.
 * @param {string} code
 * @returns {Promise<boolean>} whether an opener was told
 */
async function announce (code) {
  els.root.dispatchEvent(new CustomEvent('wechat-login', { detail: { code }, bubbles: true }))
  const opener = /** @type {Window | null} */ (window.opener)
  const origin = targetOrigin()
  if (opener === null || opener.closed || origin === null) return false
  if (origin !== location.origin && !(await allowedOrigins).includes(origin)) return false
  try {
    opener.postMessage({ type: 'wechat-login', code }, origin)
    return true
  } catch {
    return false
  }
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

/** @param {string} state @param {Words} text */
function render (state, [zh, en]) {
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
  if (state === 'loading' || state === 'pending' || state === 'scanned') {
    els.action.hidden = true
    onAction = null
  }
  // The phone-page link is only of use while the QR can still be scanned.
  if (state !== 'pending' && state !== 'scanned') els.demoHint.hidden = true
}

/** Not in the live region: a screen reader announcing every second would drown the status. @param {number} seconds */
function setCountdown (seconds) {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = String(seconds % 60).padStart(2, '0')
  const clock = h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`
  const english = document.createElement('span')
  english.lang = 'en'
  english.textContent = `Expires in ${clock}`
  els.countdown.replaceChildren(`${clock} 后过期 · `, english)
  els.countdown.hidden = false
}

/** @param {unknown} value @returns {value is StatusMessage} */
function isStatus (value) {
  if (value === null || typeof value !== 'object') return false
  const message = /** @type {Record<string, unknown>} */ (value)
  return message.type === 'status' &&
    ['pending', 'scanned', 'confirmed', 'expired'].includes(/** @type {string} */ (message.status)) &&
    typeof message.expiresIn === 'number' &&
    (message.code === undefined || typeof message.code === 'string')
}

/** @param {unknown} data */
function parseJson (data) {
  if (typeof data !== 'string') return null
  try {
    return JSON.parse(data)
  } catch {
    return null
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

/** @param {string} id */
function byId (id) {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`#${id} is missing from index.html`)
  return element
}

// A page restored from the back/forward cache shows a login whose socket is gone: start afresh.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) start()
})
window.addEventListener('pagehide', (event) => {
  if (event.persisted) current?.stop()
})

start()
