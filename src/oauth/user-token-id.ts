import { sha256 } from '../login/tokens.js'

/** The name a user's tokens are stored under: a hash, so the keyspace lists no openid. */
export function userTokenId (appId: string, openid: string): string {
  return sha256(`${appId}\n${openid}`)
}
