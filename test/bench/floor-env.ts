/** What the baselines read from their environment: the same variables the service reads. */
export function floorEnv () {
  const read = (name: string): string => {
    const value = process.env[name]
    if (value === undefined || value === '') throw new Error(`${name} is not set`)
    return value
  }
  return {
    redisUrl: read('REDIS_URL'),
    prefix: read('REDIS_PREFIX'),
    token: read('WECHAT_TOKEN'),
    /** Only the inline floor calls WeChat. */
    wechat: () => ({ base: read('WECHAT_API_BASE'), appId: read('WECHAT_APP_ID'), appSecret: read('WECHAT_APP_SECRET') })
  }
}
