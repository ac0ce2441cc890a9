import { sha256 } from '../../login/tokens.js'
import { userTokenId } from '../../oauth/user-token-id.js'

/**
 * The OAuth part of the keyspace (to be folded into keys.ts with the rest). What a dump reveals:
 * - `{prefix}oauth:state:{sha256(state)}`: a hash per authorization in flight (flow, scope,
 *   return_to, the browser cookie's hash, status); its answer to a repeated callback is AES-GCM
 *   sealed. Gone OAUTH_STATE_TTL_SECONDS + 60 s after creation. No state WeChat would accept.
 * - `{prefix}oauth:user:{sha256(appId, openid)}`: a user's access and refresh tokens, AES-GCM sealed
 *   with TOKEN_ENC_KEY; gone when the refresh token ends (30 days). Neither token, nor the openid.
 */
export const oauthKeys = {
  state: (prefix: string, state: string) => `${prefix}oauth:state:${sha256(state)}`,
  userTokens: (prefix: string, appId: string, openid: string) => `${prefix}oauth:user:${userTokenId(appId, openid)}`
}
