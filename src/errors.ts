/**
 * ioredis' ways of saying "Redis is not there right now". With the offline queue off these come at
 * once: a route answers 503 instead of hanging, the webhook holds the push and then spools it.
 */
const CLUSTER_UNREACHABLE: ReadonlySet<string> = new Set([
  "Cluster isn't ready and enableOfflineQueue options is false",
  'None of startup nodes is available',
  'Cluster is disconnected.',
  'Node is disconnected'
])

export function isBackendUnavailable (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (error.name === 'MaxRetriesPerRequestError') return true
  if (error.message.includes("Stream isn't writeable") || error.message.includes('Connection is closed')) return true
  // commandTimeout expired; a replica promoted mid-failover; Redis still loading its data; out of memory.
  if (error.message === 'Command timed out') return true
  if (/^(READONLY|LOADING|OOM|MASTERDOWN|TRYAGAIN|CLUSTERDOWN) /.test(error.message)) return true
  // A Redis Cluster out of reach (ioredis' cluster client, offline queue off): no node answers, or
  // its slot map is being fetched again after every node was lost.
  if (error.name === 'ClusterAllFailedError' || CLUSTER_UNREACHABLE.has(error.message)) return true
  const code = (error as { code?: unknown }).code
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE'
}
