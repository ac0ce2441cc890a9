import { createHash, randomBytes } from 'node:crypto'
import { safeEqual } from '../util/constant-time.js'

/** 192 random bits, base64url: 32 characters, well inside WeChat's 64-character scene_str limit. */
export function newScene (): string {
  return randomBytes(24).toString('base64url')
}

export const SCENE_PATTERN = '^[A-Za-z0-9_-]{32}$'
const sceneRegExp = new RegExp(SCENE_PATTERN)

/** Cheap filter before any I/O: a scene we did not make cannot be one of our logins. */
export function isOurScene (scene: string): boolean {
  return sceneRegExp.test(scene)
}

/** The browser's proof that it created the login; never in a URL. */
export function newBrowserSecret (): string {
  return randomBytes(32).toString('base64url')
}

export function newLoginCode (): string {
  return randomBytes(32).toString('base64url')
}

export function sha256 (value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

export function secretMatches (secretHash: string, presented: string): boolean {
  return safeEqual(secretHash, sha256(presented))
}
