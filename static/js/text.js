// @ts-check
/** Everything the page says, in Chinese and English (shown together). */

/** @typedef {readonly [zh: string, en: string]} Words */

export const TEXT = Object.freeze({
  loading: /** @type {Words} */ (['正在生成二维码…', 'Generating the QR code…']),
  pending: /** @type {Words} */ (['请使用微信扫一扫登录', 'Scan the QR code with WeChat']),
  scanned: /** @type {Words} */ (['已扫码，请在手机上确认', 'Scanned — please confirm on your phone']),
  confirmed: /** @type {Words} */ (['登录成功', 'Logged in']),
  denied: /** @type {Words} */ (['已在手机上拒绝登录', 'The login was denied on the phone']),
  expired: /** @type {Words} */ (['二维码已过期，请刷新', 'The QR code has expired']),
  network: /** @type {Words} */ (['网络连接失败，请检查网络后重试', 'Network error — check your connection and try again']),
  unavailable: /** @type {Words} */ (['服务暂时不可用，请稍后重试', 'The service is unavailable — please try again']),
  noQr: /** @type {Words} */ (['二维码无法显示，请重试', 'The QR code could not be shown — please try again']),
  codeGone: /** @type {Words} */ (['登录码已失效，请重新扫码', 'The login code is no longer valid — please scan again']),
  rateLimited: /** @type {Words} */ (['请求过于频繁，请稍后重试', 'Too many attempts — please wait a moment'])
})

/** What the action button says. */
export const LABEL = Object.freeze({
  refresh: /** @type {Words} */ (['刷新二维码', 'Refresh']),
  tryAgain: /** @type {Words} */ (['重试', 'Try again']),
  logInAgain: /** @type {Words} */ (['重新登录', 'Log in again'])
})

/** @param {number | undefined} errcode @returns {Words} */
export function wechatUnavailable (errcode) {
  const shown = errcode ?? '?'
  return [`微信接口暂时不可用（错误码 ${shown}）`, `WeChat is unavailable right now (errcode ${shown})`]
}

/** @param {number} seconds @returns {Words} */
export function retryIn (seconds) {
  return [`${seconds} 秒后可重试`, `Retry in ${seconds} s`]
}

/** @param {string} clock @returns {Words} */
export function expiresIn (clock) {
  return [`${clock} 后过期`, `Expires in ${clock}`]
}
