import { sha256 } from './tokens.js'

/**
 * How log lines name a login (`login`): the first 12 hex digits of the scene's sha256. Enough to
 * follow one login through every line of every process; the scene itself never reaches a log
 * (with the browser secret it watches the login, and it is in the QR the visitor scanned).
 */
export function loginLogKey (scene: string): string {
  return sha256(scene).slice(0, 12)
}
