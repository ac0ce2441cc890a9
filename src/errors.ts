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
  // A cluster whose nodes are back but not serving yet: a restarted master answers CLUSTERDOWN for at
  // least 2 s (Redis' CLUSTER_WRITABLE_DELAY), one already serving MOVED to one that is not. A client
  // that kept a node it never connected to did not see the cluster go and still says 'ready'; it
  // tries again 16 times, 100 ms apart, and gives up with this error, whatever the last one was.
  if (error.message.startsWith('Too many Cluster redirections.')) return true
  const code = (error as { code?: unknown }).code
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE'
}
