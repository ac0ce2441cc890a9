/** How the visitor logged in: follow-scan, OAuth inside WeChat (Official Account), website QR (Open Platform). */
export type LoginFlow = 'scan' | 'mp' | 'web'

/** What `sns/userinfo` tells (snsapi_userinfo, snsapi_login); sex and region are empty since 2021-10-20. */
export interface Profile {
  nickname: string
  headimgurl: string
  sex: number
  province: string
  city: string
  country: string
  privilege: string[]
}

/** What the service learned about the visitor; handed to the application's backend for a login code. */
export interface Identity {
  openid: string
  unionid: string | null
  /** The QR's scene; null for OAuth logins, which have no QR. */
  scene: string | null
  /** Whether the visitor follows the Official Account; null for OAuth logins, which do not tell. */
  subscribed: boolean | null
  confirmedAt: number
  /** Absent only in codes issued before flows existed: those are follow-scan ones. */
  flow?: LoginFlow
  /** Only when the OAuth scope gave one (snsapi_userinfo, snsapi_login). */
  profile?: Profile
}

export type StoredStatus = 'pending' | 'scanned' | 'confirmed'
export type LoginStatus = StoredStatus | 'expired'

export interface LoginRecord {
  scene: string
  /** sha256 of the browser secret: a leaked store dump does not let anyone watch a login. */
  secretHash: string
  status: StoredStatus
  createdAt: number
  expiresAt: number
  scannedAt?: number
  /** Present once confirmed, until the code expires or the record does. */
  code?: string
  codeExpiresAt?: number
  confirmedAt?: number
}

/** 'changed' when this call moved the login; otherwise why not. */
export type TransitionResult = 'changed' | 'already_scanned' | 'already_confirmed' | 'missing' | 'expired'
