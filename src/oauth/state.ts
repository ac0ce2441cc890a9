import { randomBytes } from 'node:crypto'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
/** 62 × 4 = 248: bytes at or above it are redrawn, so every character is equally likely. */
const UNBIASED_LIMIT = 248
export const STATE_LENGTH = 32
/** WeChat allows a-zA-Z0-9 in `state` (at most 128 bytes); 32 of 62 characters carry 190 bits. */
export const STATE_PATTERN = '^[A-Za-z0-9]{32}$'
const stateRegExp = new RegExp(STATE_PATTERN)

export function newState (): string {
  let state = ''
  while (state.length < STATE_LENGTH) {
    for (const byte of randomBytes(STATE_LENGTH)) {
      if (byte < UNBIASED_LIMIT && state.length < STATE_LENGTH) state += ALPHABET[byte % ALPHABET.length]
    }
  }
  return state
}

/** Cheap filter before any I/O: a state we did not make cannot be one of ours. */
export function isOurState (value: string): boolean {
  return stateRegExp.test(value)
}

/** The random value of the browser-binding cookie (the cookie itself is signed). */
export function newBrowserId (): string {
  return randomBytes(24).toString('base64url')
}
