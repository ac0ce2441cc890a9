import { createHash } from 'node:crypto'

/** A test user as the options describe it; openid/unionid are derived when absent. */
export interface TestUserSeed {
  nickname: string
  following: boolean
  /** false: the account is not bound to an Open Platform account for this user (no unionid). */
  hasUnionid: boolean
  openid?: string
  unionid?: string
}

export const DEFAULT_USERS: readonly TestUserSeed[] = [
  { nickname: 'Zhang Wei', following: true, hasUnionid: true },
  { nickname: 'Li Na', following: false, hasUnionid: true },
  { nickname: 'Wang Fang', following: true, hasUnionid: false },
  { nickname: 'Chen Jie', following: false, hasUnionid: false }
]

/** A test user as the emulator shows it (the phone page, /_control/users). */
export interface TestUser {
  openid: string
  unionid: string | null
  nickname: string
  /** Follows the Official Account: a scan pushes SCAN, otherwise subscribe with qrscene_. */
  following: boolean
}

/** The state user/info reports and scans change. */
export interface UserState {
  openid: string
  unionid: string | null
  nickname: string
  following: boolean
  /** Seconds; 0 when the user never followed. */
  subscribeTime: number
  subscribeScene: string
  qrScene: number
  qrSceneStr: string
}

function digest (text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

/**
 * 28 characters starting with "o", like WeChat's; the openids of one account share their first six
 * characters, as real ones do. Stable for a given appId, so a demo's users survive restarts.
 */
export function deriveOpenid (appId: string, nickname: string, index: number): string {
  return `o${digest(`openid-prefix:${appId}`).slice(0, 5)}${digest(`openid:${appId}:${index}:${nickname}`).slice(0, 22)}`
}

/** Same for every app of one Open Platform account, hence independent of the appId. */
function deriveUnionid (nickname: string, index: number): string {
  return `o${digest('unionid-prefix').slice(0, 5)}${digest(`unionid:${index}:${nickname}`).slice(0, 22)}`
}

/** Users that follow from the start found the account by search. */
const INITIAL_SCENE = 'ADD_SCENE_SEARCH'
const INITIAL_FOLLOW_AGE_SECONDS = 30 * 24 * 60 * 60

export function createUsers (appId: string, seeds: readonly TestUserSeed[], now: () => number): UserState[] {
  const at = Math.floor(now() / 1000)
  return seeds.map((seed, index) => ({
    openid: seed.openid ?? deriveOpenid(appId, seed.nickname, index),
    unionid: seed.hasUnionid ? seed.unionid ?? deriveUnionid(seed.nickname, index) : null,
    nickname: seed.nickname,
    following: seed.following,
    subscribeTime: seed.following ? at - INITIAL_FOLLOW_AGE_SECONDS : 0,
    subscribeScene: seed.following ? INITIAL_SCENE : '',
    qrScene: 0,
    qrSceneStr: ''
  }))
}

/** A copy: callers never hold the emulator's own state. */
export function toTestUser (user: UserState): TestUser {
  return { openid: user.openid, unionid: user.unionid, nickname: user.nickname, following: user.following }
}
