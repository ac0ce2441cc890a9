/**
 * How much each scenario does: BENCH_SCALE=full (npm run bench's default, the figures in the
 * README), quick (about a minute, to try a change), tiny (the harness test: the shape, not the figures).
 */
export interface Scale {
  name: string
  /** Ingest: rounds of floor then ours, each this long, at `ingestConnections`. */
  ingestRounds: number
  ingestSeconds: number
  ingestConnections: number
  /** Scan-to-page: batches of floor then ours, one login at a time. */
  batches: number
  batchSize: number
  /** Polling pages, per interval, and how many poll at once. */
  polledLogins: number
  pollingConcurrency: number
  /** QR creations: rounds of floor then ours. */
  qrRounds: number
  qrSeconds: number
  qrConnections: number
  /** Idle sockets held on one instance. */
  idleSockets: number
  /** Logins a second flowing while they are held, for how long. */
  flowRate: number
  flowSeconds: number
  /** Service processes sharing one token. */
  tokenProcesses: number
}

const SCALES: Record<string, Scale> = {
  full: { name: 'full', ingestRounds: 3, ingestSeconds: 10, ingestConnections: 50, batches: 20, batchSize: 25, polledLogins: 200, pollingConcurrency: 40, qrRounds: 2, qrSeconds: 5, qrConnections: 20, idleSockets: 10_000, flowRate: 100, flowSeconds: 20, tokenProcesses: 4 },
  quick: { name: 'quick', ingestRounds: 1, ingestSeconds: 3, ingestConnections: 50, batches: 4, batchSize: 10, polledLogins: 20, pollingConcurrency: 20, qrRounds: 1, qrSeconds: 2, qrConnections: 20, idleSockets: 1000, flowRate: 100, flowSeconds: 3, tokenProcesses: 4 },
  tiny: { name: 'tiny', ingestRounds: 1, ingestSeconds: 1, ingestConnections: 10, batches: 2, batchSize: 4, polledLogins: 4, pollingConcurrency: 4, qrRounds: 1, qrSeconds: 1, qrConnections: 5, idleSockets: 500, flowRate: 50, flowSeconds: 1, tokenProcesses: 4 }
}

export function benchScale (name: string = process.env.BENCH_SCALE ?? 'full'): Scale {
  const scale = SCALES[name]
  if (scale === undefined) throw new Error(`BENCH_SCALE must be one of ${Object.keys(SCALES).join(', ')}`)
  return scale
}
