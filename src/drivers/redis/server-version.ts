/**
 * What a Redis Cluster must be for the service: Redis 7 or later, for sharded pub/sub
 * (SSUBSCRIBE/SPUBLISH), which carries the login bus there. An older cluster would let the service
 * start and then fail every page's socket; it is refused at boot instead.
 */
export const CLUSTER_MIN_MAJOR_VERSION = 7

/** The problem with a cluster node whose `INFO server` is `info`, or null when it will do. */
export function clusterVersionProblem (info: string): string | null {
  const version = /^redis_version:([^\r\n]+)/m.exec(info)?.[1]
  const major = version === undefined ? Number.NaN : Number.parseInt(version, 10)
  if (major >= CLUSTER_MIN_MAJOR_VERSION) return null
  return `REDIS_CLUSTER_NODES: the cluster runs Redis ${version ?? '(version not reported)'}; the service needs Redis ${CLUSTER_MIN_MAJOR_VERSION} or later there, for sharded pub/sub (SSUBSCRIBE/SPUBLISH)`
}
