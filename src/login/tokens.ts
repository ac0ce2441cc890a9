import { hash, randomBytes } from 'node:crypto'
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

/**
 * How many characters of a login code are its login's tag. On Redis Cluster a login's hash, its
 * code's key and its change channel carry the tag (drivers/redis/keys.ts), so the script that
 * confirms a login and stores its code runs on one node; the exchange has only the code, so the
 * code carries it.
 */
export const LOGIN_TAG_LENGTH = 4

/** A login's tag: from the scene's hash, 24 bits spread evenly over the cluster's slots. Not secret. */
export function loginTag (scene: string): string {
  return hash('sha256', scene, 'base64url').slice(0, LOGIN_TAG_LENGTH)
}

/** The tag a login code starts with. */
export function codeTag (code: string): string {
  return code.slice(0, LOGIN_TAG_LENGTH)
}

/**
 * A login code: its login's tag (4 characters, see loginTag), then 256 random bits in base64url
 * (43 characters), 47 in all. The tag adds nothing to guess and needs no secrecy; the random part
 * is what makes a code unguessable. A code without a login (OAuth) gets a random tag. One format
 * in every mode, on one Redis as on a cluster.
 */
export function newLoginCode (scene?: string): string {
  const tag = scene === undefined ? randomBytes(3).toString('base64url') : loginTag(scene)
  return `${tag}${randomBytes(32).toString('base64url')}`
}

/**
 * A store's confirm takes only a code of its login (newLoginCode(scene)): checked by every driver,
 * as a code made otherwise would pass on one Redis and fail only on a cluster (CROSSSLOT), where
 * its key must sit in its login's slot.
 */
export function assertCodeOfLogin (scene: string, code: string): void {
  if (codeTag(code) !== loginTag(scene)) throw new Error('a login code must carry its login\'s tag: make it with newLoginCode(scene)')
}

export function sha256 (value: string): string {
  return hash('sha256', value, 'hex')
}

export function secretMatches (secretHash: string, presented: string): boolean {
  return safeEqual(secretHash, sha256(presented))
}
