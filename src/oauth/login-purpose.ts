import type { LoginStore } from '../login/store.js'
import { newLoginCode } from '../login/tokens.js'
import type { Identity } from '../login/types.js'
import type { CallbackAnswer } from './answers.js'
import { withCode } from './return-to.js'
import type { AuthorizedUser, OAuthStateRecord } from './types.js'

export interface LoginPurposeOptions {
  loginStore: Pick<LoginStore, 'issueCode'>
  codeTtlMs: number
  now?: () => number
}

/**
 * The `login` purpose: the same one-time login code as follow-scan, redeemed once on
 * POST /api/login/exchange, handed to return_to (redirect) or to the opener (popup).
 */
export function createLoginPurpose ({ loginStore, codeTtlMs, now = Date.now }: LoginPurposeOptions) {
  return async function completeLogin (user: AuthorizedUser, record: OAuthStateRecord): Promise<CallbackAnswer> {
    const code = newLoginCode()
    const identity: Identity = {
      openid: user.openid,
      unionid: user.unionid,
      scene: null,
      subscribed: null,
      confirmedAt: now(),
      flow: user.flow,
      ...(user.profile === undefined ? {} : { profile: user.profile })
    }
    await loginStore.issueCode(code, identity, codeTtlMs)
    const location = withCode(record.returnTo, code)
    if (record.display === 'popup') {
      return { kind: 'post_message', targetOrigin: new URL(record.returnTo).origin, message: { type: 'wechat-login', code }, fallback: location }
    }
    return { kind: 'redirect', location }
  }
}
