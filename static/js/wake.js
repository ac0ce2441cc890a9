// @ts-check
/**
 * "The page may have missed something": the laptop slept (the clock jumped past our timers), the
 * network came back, or the tab was hidden a while and is seen again. A socket can die in any of
 * these without a close event reaching the page, so listeners look again (transport.js) and the
 * countdown catches up (main.js).
 */

/** How often the clock is checked, and how late a check may be before it counts as a jump. */
const CHECK_INTERVAL_MS = 2000
export const CLOCK_JUMP_MS = 5000
/** A tab hidden for less than this (switching tabs) is not a wake. */
const HIDDEN_LONG_MS = 10_000

/** @type {Set<(reason: string) => void>} */
const listeners = new Set()
let lastCheck = Date.now()
/** @type {number | null} */
let hiddenAt = null
/** A jump seen while hidden is acted on when the tab is seen again (hidden tabs' timers are throttled anyway). */
let jumpedWhileHidden = false
/** @type {ReturnType<typeof setInterval> | null} */
let checker = null

/** @param {string} reason */
function wake (reason) {
  for (const listener of [...listeners]) listener(reason)
}

function checkClock () {
  const now = Date.now()
  const late = now - lastCheck - CHECK_INTERVAL_MS
  lastCheck = now
  if (late < CLOCK_JUMP_MS) return
  if (document.visibilityState === 'hidden') jumpedWhileHidden = true
  else wake('clock jumped')
}

function onVisibilityChange () {
  if (document.visibilityState === 'hidden') {
    hiddenAt = Date.now()
    return
  }
  const hiddenFor = hiddenAt === null ? 0 : Date.now() - hiddenAt
  hiddenAt = null
  lastCheck = Date.now()
  if (jumpedWhileHidden || hiddenFor >= HIDDEN_LONG_MS) {
    jumpedWhileHidden = false
    wake('visible again')
  }
}

function onOnline () {
  wake('online')
}

/**
 * Calls `listener` on every wake; returns the function that removes it. The checks run only while
 * someone listens.
 * @param {(reason: string) => void} listener
 * @returns {() => void}
 */
export function onWake (listener) {
  listeners.add(listener)
  if (checker === null) {
    lastCheck = Date.now()
    hiddenAt = document.visibilityState === 'hidden' ? Date.now() : null
    checker = setInterval(checkClock, CHECK_INTERVAL_MS)
    document.addEventListener('visibilitychange', onVisibilityChange)
    window.addEventListener('online', onOnline)
  }
  return () => {
    listeners.delete(listener)
    if (listeners.size > 0 || checker === null) return
    clearInterval(checker)
    checker = null
    document.removeEventListener('visibilitychange', onVisibilityChange)
    window.removeEventListener('online', onOnline)
  }
}
