// @ts-check
/**
 * The login page: creates a login, draws its QR code, follows its status (transport.js), and hands
 * the one-time code to whoever opened the page (handoff.js). The browser secret lives only in the
 * page's memory: never in a URL, never stored.
 *
 * One login method is one attempt class: it drives the view from creation to a final state and
 * ends in handOver() with a code. A refresh stops the current attempt and starts a new one.
 */
import { ApiError, createLogin, fetchStatus } from './api.js'
import { announce, loadPageConfig } from './handoff.js'
import { Status } from './protocol.js'
import { drawQr, isEmulatorQr, loadQrLibrary } from './qr.js'
import { LABEL, TEXT, retryIn, wechatUnavailable } from './text.js'
import { watch } from './transport.js'
import * as view from './view.js'
import { logInWithWebsiteQr } from './web-login.js'
import { onWake } from './wake.js'

/**
 * @typedef {import('./protocol.js').CreatedLogin} CreatedLogin
 * @typedef {import('./protocol.js').StatusMessage} StatusMessage
 * @typedef {import('./text.js').Words} Words
 * @typedef {{ run (): Promise<void>, stop (): void }} Attempt
 */

/** After the local countdown ends, how long the server gets to say "expired" itself. */
const EXPIRY_GRACE_MS = 1500

// Both load while the first login is created.
loadQrLibrary()
loadPageConfig().then(({ webLoginUrl }) => {
  if (webLoginUrl === null) return
  // The website-QR popup ends in the same one-time code: the QR login stops and the code is handed over.
  view.offerWebLogin(() => logInWithWebsiteQr(webLoginUrl, (code) => {
    current?.stop()
    handOver(code)
  }))
}, () => {})

/** @type {Attempt | null} */
let current = null

function start () {
  current?.stop()
  current = new QrLogin()
  current.run()
}

/**
 * Any login method ends here: the code is handed to the embedding site, and shown on screen only
 * in demo mode (on a real site it is the site's to redeem, not the visitor's to read).
 * @param {string} code
 */
function handOver (code) {
  view.render(Status.confirmed, TEXT.confirmed)
  loadPageConfig().then((config) => { if (config.showCode) view.showCode(code) }, () => {})
  announce(code, view.root).then((told) => view.showOpenerTold(told), () => {})
}

/** Follow-scan login: one QR from creation to a final state. @implements {Attempt} */
class QrLogin {
  stopped = false
  final = false
  deadline = 0
  /** @type {CreatedLogin | null} */
  login = null
  /** @type {{ stop (): void } | null} */
  watcher = null
  /** @type {Set<ReturnType<typeof setTimeout>>} */
  timers = new Set()
  /** The countdown's next step. @type {ReturnType<typeof setTimeout> | null} */
  tickTimer = null
  /** @type {(() => void) | null} */
  stopWaking = null

  async run () {
    view.render('loading', TEXT.loading)
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
    const drawn = await drawQr(view.qrContainer, login)
    if (this.stopped) return
    if (!drawn) {
      this.showError(TEXT.noQr)
      return
    }
    this.setDeadline(login.expiresIn)
    view.render(Status.pending, TEXT.pending)
    view.showDemoLink(isEmulatorQr(login.qrUrl) ? login.qrUrl : null)
    this.tick()
    // After a sleep the countdown jumps to where it is (possibly past the end: then ask the server).
    this.stopWaking = onWake(() => this.tick())
    this.watcher = watch(login, {
      onStatus: (message) => this.apply(message),
      onGone: () => this.expired()
    })
  }

  /** @param {StatusMessage} message */
  apply (message) {
    if (this.stopped || this.final) return
    switch (message.status) {
      case Status.pending:
      case Status.scanned:
        this.setDeadline(message.expiresIn)
        view.render(message.status, TEXT[message.status])
        return
      case Status.confirmed:
        this.confirmed(message.code)
        return
      case Status.denied:
        this.denied()
        return
      case Status.expired:
        this.expired()
    }
  }

  /** The scanner said no on the phone: this QR is done, a new one may be wanted. */
  denied () {
    this.finish()
    view.render(Status.denied, TEXT.denied)
    view.offer(LABEL.refresh, start)
  }

  /** @param {string | undefined} code */
  confirmed (code) {
    this.finish()
    if (code === undefined) {
      // Confirmed, but its one-time code is used or expired: nothing to hand over, so start again.
      view.render(Status.expired, TEXT.codeGone)
      view.offer(LABEL.logInAgain, start)
      return
    }
    handOver(code)
  }

  expired () {
    if (this.final) return
    this.finish()
    view.render(Status.expired, TEXT.expired)
    view.offer(LABEL.refresh, start)
  }

  /** @param {unknown} error */
  failed (error) {
    if (error instanceof ApiError && error.status === 429) {
      this.rateLimited(error.retryAfterSeconds ?? 10)
    } else if (error instanceof ApiError && error.body.error === 'wechat_error') {
      this.showError(wechatUnavailable(error.body.errcode))
    } else if (error instanceof ApiError) {
      this.showError(TEXT.unavailable)
    } else {
      this.showError(TEXT.network)
    }
  }

  /** @param {Words} text */
  showError (text) {
    this.finish()
    view.render('error', text)
    view.offer(LABEL.tryAgain, start)
  }

  /** The retry button waits out Retry-After, so a click cannot earn another 429. @param {number} seconds */
  rateLimited (seconds) {
    this.finish()
    view.render('error', TEXT.rateLimited)
    const until = Date.now() + seconds * 1000
    const update = () => {
      const left = Math.ceil((until - Date.now()) / 1000)
      if (left <= 0) {
        view.offer(LABEL.tryAgain, start)
        return
      }
      view.offer(retryIn(left), null)
      this.later(update, 1000)
    }
    update()
  }

  /** The server's expiresIn, not expiresAt: the visitor's clock may be wrong. @param {number} seconds */
  setDeadline (seconds) {
    const deadline = Date.now() + seconds * 1000
    // expiresIn is rounded up to whole seconds: ignore the jitter, keep the countdown steady.
    if (this.deadline === 0 || Math.abs(deadline - this.deadline) > 1500) this.deadline = deadline
  }

  tick () {
    if (this.final) return
    if (this.tickTimer !== null) this.cancel(this.tickTimer)
    const left = this.deadline - Date.now()
    view.setCountdown(Math.max(0, Math.ceil(left / 1000)))
    this.tickTimer = left > 0
      ? this.later(() => this.tick(), left % 1000 || 1000)
      : this.later(() => { this.checkExpiry() }, EXPIRY_GRACE_MS)
  }

  /**
   * The countdown ran out and the server has not said "expired" (its push may be in flight, or
   * the socket down): ask once, so a confirmation that raced the deadline is not thrown away.
   */
  async checkExpiry () {
    if (this.final || this.login === null) return
    try {
      const message = await fetchStatus(this.login)
      if (message === null) {
        this.expired()
      } else if (message.status === Status.pending || message.status === Status.scanned) {
        // Still open: the countdown starts again from what the server says is left.
        this.deadline = 0
        this.apply(message)
        this.tick()
      } else {
        this.apply(message)
      }
    } catch {
      this.expired()
    }
  }

  finish () {
    this.final = true
    this.stopWaking?.()
    this.stopWaking = null
    this.watcher?.stop()
    this.watcher = null
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    view.hideCountdown()
  }

  stop () {
    this.stopped = true
    this.finish()
  }

  /** @param {() => void} fn @param {number} ms */
  later (fn, ms) {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (this.tickTimer === timer) this.tickTimer = null
      if (!this.stopped) fn()
    }, ms)
    this.timers.add(timer)
    return timer
  }

  /** @param {ReturnType<typeof setTimeout>} timer */
  cancel (timer) {
    clearTimeout(timer)
    this.timers.delete(timer)
    if (this.tickTimer === timer) this.tickTimer = null
  }
}

// A page restored from the back/forward cache shows a login whose socket is gone: start afresh.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) start()
})
window.addEventListener('pagehide', (event) => {
  if (event.persisted) current?.stop()
})

start()
