/**
 * Users' OAuth tokens (access and refresh), one sealed value per app and openid, kept until the
 * refresh token's end. The drivers store what they are given: encryption is the caller's, so no
 * driver ever holds a readable token. Keys are named by a hash, so listing them names no user.
 */
export interface UserTokenStore {
  /** Replaces any value; gone at `removeAt` (epoch ms). */
  put (appId: string, openid: string, sealed: string, removeAt: number): Promise<void>
  get (appId: string, openid: string): Promise<string | null>
  delete (appId: string, openid: string): Promise<void>
}
