import type { BaseLogger } from 'pino'

/** What domain code needs of a logger: Fastify's and pino's both fit. */
export type Log = Pick<BaseLogger, 'fatal' | 'error' | 'warn' | 'info' | 'debug'>
