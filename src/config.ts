import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { envSchema } from 'env-schema'
import { unsafeConfigProblem } from './config-checks.js'
import { oauthConfigProblem } from './oauth/settings.js'

/** A string enum ajv reports as "must be equal to one of the allowed values", not as an anyOf of literals. */
function StringEnum<const T extends readonly string[]> (values: T, options: { default: T[number], description?: string }) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: values, ...options })
}

const SecretString = (description: string, minLength = 1) =>
  Type.String({ minLength, description })

export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  HOST: Type.String({ default: '0.0.0.0' }),
  PUBLIC_URL: Type.String({
    default: 'http://localhost:3000',
    pattern: '^https?://[^/?#]+(/[^?#]*)?$',
    description: 'Where browsers and WeChat reach this service, without a trailing query'
  }),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'Unset (and no REDIS_CLUSTER_NODES): embedded mode, one process, no Redis' })
  ),
  // Checked in loadConfig (redisClusterNodes): a clearer message than a pattern's.
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({
    description: 'Comma-separated host:port of Redis Cluster nodes (Redis ≥ 7), instead of REDIS_URL: the state on a cluster'
  })),
  REDIS_CLUSTER_USERNAME: Type.Optional(Type.String({ minLength: 1, description: 'The ACL user of every cluster node (with REDIS_CLUSTER_NODES); unset: "default"' })),
  REDIS_CLUSTER_PASSWORD: Type.Optional(SecretString('The password of every cluster node (with REDIS_CLUSTER_NODES; one Redis takes its password in REDIS_URL)')),
  REDIS_CLUSTER_TLS: Type.Boolean({
    default: false,
    description: 'Every cluster node is reached over TLS (with REDIS_CLUSTER_NODES; one Redis says so with rediss:// in REDIS_URL). A private CA: NODE_EXTRA_CA_CERTS'
  }),
  REDIS_PREFIX: Type.String({ default: 'wql:', pattern: '^[A-Za-z0-9:_.-]{1,64}$' }),

  WECHAT_APP_ID: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+$' }),
  WECHAT_APP_SECRET: SecretString('The Official Account AppSecret'),
  WECHAT_TOKEN: Type.String({
    minLength: 3,
    maxLength: 32,
    pattern: '^[A-Za-z0-9]+$',
    description: 'The webhook Token from the WeChat console (3-32 letters or digits)'
  }),
  WECHAT_API_BASE: Type.String({ default: 'https://api.weixin.qq.com', pattern: '^https?://' }),
  WECHAT_MP_BASE: Type.String({ default: 'https://mp.weixin.qq.com', pattern: '^https?://' }),
  WECHAT_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 60000 }),
  WECHAT_RETRY_DEADLINE_MS: Type.Integer({
    default: 10000,
    minimum: 0,
    maximum: 120000,
    description: 'Total time a WeChat call may spend retrying -1 (busy) and network errors'
  }),
  WECHAT_TOKEN_MODE: StringEnum(['stable', 'legacy'], {
    default: 'stable',
    description: 'stable: cgi-bin/stable_token (recommended); legacy: cgi-bin/token'
  }),
  WECHAT_TOKEN_URL: Type.Optional(Type.String({
    pattern: '^https?://',
    description: 'A central access-token service of your own to fetch the token from instead of WeChat'
  })),
  TOKEN_REFRESH_MARGIN_SECONDS: Type.Integer({ default: 300, minimum: 0, maximum: 3600 }),
  HTTPS_PROXY: Type.Optional(Type.String({ pattern: '^https?://', description: 'Proxy for calls to WeChat (fixed egress IP)' })),
  WECHAT_ENCODING_AES_KEY: Type.Optional(Type.String({
    pattern: '^[A-Za-z0-9]{43}$',
    description: 'EncodingAESKey of the console (43 letters/digits): enables compatible and safe mode'
  })),
  WECHAT_TIMESTAMP_TOLERANCE_SECONDS: Type.Integer({ default: 300, minimum: 1, maximum: 86400 }),
  WECHAT_ALLOW_PLAINTEXT: Type.Boolean({
    default: false,
    description: 'With WECHAT_ENCODING_AES_KEY set, still accept plaintext pushes (only while switching the console mode)'
  }),

  API_KEY: SecretString('Bearer key of the application backend for /api/login/exchange', 16),
  LOGIN_TTL_SECONDS: Type.Integer({ default: 300, minimum: 1, maximum: 2592000, description: 'QR and login lifetime; WeChat allows up to 30 days' }),
  LOGIN_CODE_TTL_SECONDS: Type.Integer({ default: 60, minimum: 5, maximum: 600 }),
  LOGIN_REQUIRE_CONFIRM: Type.Boolean({
    default: false,
    description: 'A scan only shows "scanned": the scanner confirms on a page their phone opens (stops QR login hijacking)'
  }),
  WEBHOOK_BODY_LIMIT: Type.Integer({ default: 65536, minimum: 1024, maximum: 1048576 }),

  TRUST_PROXY: Type.Optional(Type.String({
    description: "Fastify's trustProxy: 'true', a hop count, or comma-separated addresses/CIDRs of your proxies"
  })),
  ALLOWED_ORIGINS: Type.Optional(Type.String({
    pattern: '^\\s*https?://[^,\\s]+(\\s*,\\s*https?://[^,\\s]+)*\\s*$',
    description: "Comma-separated origins allowed to open the login WebSocket (default: PUBLIC_URL's origin)"
  })),
  RATE_LIMIT_QR_PER_IP: Type.Integer({ default: 20, minimum: 0, description: 'Logins created per IP (IPv6: per /64) per minute; 0 = off' }),
  RATE_LIMIT_QR_GLOBAL: Type.Integer({ default: 300, minimum: 0, description: 'Logins created per minute in all; 0 = off' }),
  RATE_LIMIT_QR_DAILY: Type.Integer({
    default: 90000,
    minimum: 0,
    description: "Logins created per day (Beijing time) in all, below WeChat's daily qrcode/create quota; 0 = off"
  }),
  RATE_LIMIT_STATUS_PER_IP: Type.Integer({ default: 120, minimum: 0, description: 'Status polls per IP per minute; 0 = off' }),
  RATE_LIMIT_EXCHANGE_PER_KEY: Type.Integer({ default: 600, minimum: 0, description: 'Exchange attempts per API key per minute; 0 = off' }),
  RATE_LIMIT_SOCKET_PER_IP: Type.Integer({ default: 60, minimum: 0, description: 'Login socket upgrades per IP (IPv6: per /64) per minute; 0 = off' }),
  SOCKET_LIMIT_PER_IP: Type.Integer({ default: 32, minimum: 0, description: 'Open login sockets per IP (IPv6: per /64) on one instance; 0 = off' }),
  SOCKET_LIMIT_PER_LOGIN: Type.Integer({ default: 4, minimum: 0, description: 'Open sockets watching one login on one instance; 0 = off' }),
  SOCKET_LIMIT_PER_INSTANCE: Type.Integer({ default: 10000, minimum: 0, description: 'Open login sockets on one instance; 0 = off' }),
  SOCKET_PING_SECONDS: Type.Integer({
    default: 30,
    minimum: 1,
    maximum: 3600,
    description: 'Every login socket is pinged this often; one that has not answered the previous ping is dropped. Keep it under the load balancer\'s idle timeout'
  }),

  SPOOL_DIR: Type.Optional(Type.String({
    minLength: 1,
    description: "Where the webhook keeps scans on disk while Redis is unreachable; one directory per instance (default: the system's temporary directory)"
  })),

  LOG_LEVEL: StringEnum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  RUN_WORKER: Type.Boolean({ default: true }),
  WORKER_CONCURRENCY: Type.Integer({ default: 16, minimum: 1, maximum: 1000 }),
  METRICS_TOKEN: Type.Optional(SecretString('Bearer token Prometheus must send to /metrics; unset: /metrics is open', 16)),
  METRICS_PORT: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 65535,
    description: 'A worker-only process (npm run worker) serves /metrics on this port; unset: it listens on nothing'
  })),

  WECHAT_OPEN_BASE: Type.String({
    default: 'https://open.weixin.qq.com',
    pattern: '^https?://',
    description: 'Where browsers authorize (connect/oauth2/authorize, connect/qrconnect)'
  }),
  WECHAT_OPEN_APP_ID: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+$', description: 'The Open Platform website app (website QR login)' })),
  WECHAT_OPEN_APP_SECRET: Type.Optional(SecretString("The website app's AppSecret")),
  ALLOWED_RETURN_ORIGINS: Type.Optional(Type.String({
    pattern: '^\\s*https?://[^,\\s]+(\\s*,\\s*https?://[^,\\s]+)*\\s*$',
    description: "Comma-separated origins an OAuth login may return to (default: PUBLIC_URL's origin)"
  })),
  // Checked in loadConfig, and only when OAuth is configured: an unused bad key stops nothing.
  TOKEN_ENC_KEY: Type.Optional(Type.String({ description: "32 bytes in base64: encrypts users' OAuth tokens, signs the OAuth cookie" })),
  OAUTH_STATE_TTL_SECONDS: Type.Integer({ default: 600, minimum: 1, maximum: 3600, description: 'How long an OAuth authorization may take, from authorize to callback' }),
  RATE_LIMIT_OAUTH_PER_IP: Type.Integer({ default: 30, minimum: 0, description: 'OAuth authorizations (and, counted apart, callbacks) per IP per minute; 0 = off' }),

  WECHAT_EMULATOR: Type.Boolean({ default: false, description: 'Serve an emulator of WeChat under /_emulator and use it. Never in production.' }),
  WECHAT_EMULATOR_PUBLIC_URL: Type.Optional(Type.String({
    pattern: '^https?://[^/?#]+(/[^?#]*)?$',
    description: "Where a phone reaches the emulator's scan page (default PUBLIC_URL)"
  })),
  WECHAT_EMULATOR_MODE: StringEnum(['plaintext', 'compatible', 'safe'], {
    default: 'plaintext',
    description: "How the emulator's pushes are encrypted (compatible/safe need WECHAT_ENCODING_AES_KEY)"
  })
})

export type Config = Static<typeof ConfigSchema>
export type Env = Record<string, string | undefined>

const flagWords: Record<string, boolean> = { 1: true, 0: false, yes: true, no: false, on: true, off: false }

/**
 * Operators write RUN_WORKER=0 and WECHAT_EMULATOR=1, which ajv does not coerce to booleans;
 * the words are mapped for exactly the keys the schema declares boolean.
 */
function normalizeFlags (env: Env, schema: { properties: Record<string, TSchema> }): Env {
  const normalized: Env = { ...env }
  for (const [key, property] of Object.entries(schema.properties)) {
    const value = normalized[key]?.trim().toLowerCase()
    if (property.type === 'boolean' && value !== undefined && value in flagWords) {
      normalized[key] = String(flagWords[value])
    }
  }
  return normalized
}

export class ConfigError extends Error {
  constructor (message: string) {
    super(`Invalid configuration: ${message}`)
    this.name = 'ConfigError'
  }
}

/** Reads only the variables the schema names: the rest of the environment is not our business. */
export function loadConfig (env: Env = process.env): Config {
  const known: Env = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') known[key] = value
  }
  let config: Config
  try {
    config = envSchema<Config>({
      schema: ConfigSchema,
      data: normalizeFlags(known, ConfigSchema),
      dotenv: false
    })
  } catch (error) {
    // ajv names the variable ("env/PORT must be integer"); never echo the value, it may be a secret.
    throw new ConfigError((error as Error).message)
  }
  if (config.WECHAT_EMULATOR_MODE !== 'plaintext' && config.WECHAT_ENCODING_AES_KEY === undefined) {
    throw new ConfigError(`WECHAT_EMULATOR_MODE=${config.WECHAT_EMULATOR_MODE} needs WECHAT_ENCODING_AES_KEY`)
  }
  const problem = redisConfigProblem(config) ?? oauthConfigProblem(config) ?? unsafeConfigProblem(config)
  if (problem !== null) throw new ConfigError(problem)
  return config
}

export interface RedisNode {
  host: string
  port: number
}

/** One entry of REDIS_CLUSTER_NODES: a name (Docker's may hold '_') or IPv4 address, or an IPv6 address in brackets, then a port. */
const CLUSTER_NODE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/

/** The nodes REDIS_CLUSTER_NODES names, or the reason it names none (never echoing the value). */
function parseClusterNodes (value: string): RedisNode[] | string {
  const nodes: RedisNode[] = []
  for (const [index, entry] of value.split(',').map((part) => part.trim()).entries()) {
    const match = CLUSTER_NODE.exec(entry)
    const port = Number(match?.[2])
    if (match === null || port < 1 || port > 65535) {
      return `REDIS_CLUSTER_NODES must be comma-separated host:port of the cluster's nodes (e.g. 10.0.0.1:6379,10.0.0.2:6379); entry ${index + 1} is not`
    }
    nodes.push({ host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port })
  }
  return nodes
}

function redisConfigProblem (config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_CLUSTER_USERNAME' | 'REDIS_CLUSTER_PASSWORD' | 'REDIS_CLUSTER_TLS'>): string | null {
  if (config.REDIS_CLUSTER_NODES === undefined) {
    const stray = config.REDIS_CLUSTER_USERNAME !== undefined ? 'REDIS_CLUSTER_USERNAME' : config.REDIS_CLUSTER_PASSWORD !== undefined ? 'REDIS_CLUSTER_PASSWORD' : null
    if (stray !== null) return `${stray} is set without REDIS_CLUSTER_NODES: it is for a Redis Cluster (one Redis takes its credentials in REDIS_URL, redis://user:password@host:port)`
    return config.REDIS_CLUSTER_TLS ? 'REDIS_CLUSTER_TLS is set without REDIS_CLUSTER_NODES: it is for a Redis Cluster (one Redis over TLS is a rediss:// REDIS_URL)' : null
  }
  if (config.REDIS_URL !== undefined) {
    return 'REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for one Redis, or REDIS_CLUSTER_NODES for a Redis Cluster, not both'
  }
  const nodes = parseClusterNodes(config.REDIS_CLUSTER_NODES)
  return typeof nodes === 'string' ? nodes : null
}

/** The credentials every cluster node asks for (REDIS_CLUSTER_USERNAME, REDIS_CLUSTER_PASSWORD), as ioredis takes them. */
export function redisClusterCredentials (config: Pick<Config, 'REDIS_CLUSTER_USERNAME' | 'REDIS_CLUSTER_PASSWORD'>): { username?: string, password?: string } {
  return {
    ...(config.REDIS_CLUSTER_USERNAME === undefined ? {} : { username: config.REDIS_CLUSTER_USERNAME }),
    ...(config.REDIS_CLUSTER_PASSWORD === undefined ? {} : { password: config.REDIS_CLUSTER_PASSWORD })
  }
}

/** REDIS_CLUSTER_NODES as nodes; empty when unset (loadConfig has refused a malformed value). */
export function redisClusterNodes (config: Pick<Config, 'REDIS_CLUSTER_NODES'>): RedisNode[] {
  const nodes = config.REDIS_CLUSTER_NODES === undefined ? [] : parseClusterNodes(config.REDIS_CLUSTER_NODES)
  return typeof nodes === 'string' ? [] : nodes
}

/** Embedded mode: neither REDIS_URL nor REDIS_CLUSTER_NODES, the state lives in this one process. */
export function isEmbedded (config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): boolean {
  return config.REDIS_URL === undefined && config.REDIS_CLUSTER_NODES === undefined
}

function publicOrigin (config: Pick<Config, 'PUBLIC_URL'>): string {
  return new URL(config.PUBLIC_URL).origin
}

/**
 * SPOOL_DIR, else a directory of the system's temporary one named after REDIS_PREFIX: one per
 * deployment on a host; an instance's containers each have their own.
 */
export function spoolDir (config: Pick<Config, 'SPOOL_DIR' | 'REDIS_PREFIX'>): string {
  return config.SPOOL_DIR ?? join(tmpdir(), 'wechat-qr-login-spool', config.REDIS_PREFIX.replace(/[^A-Za-z0-9_.-]/g, '_'))
}

/** Origins whose pages may open the login socket: ALLOWED_ORIGINS, else PUBLIC_URL's origin. */
export function allowedOrigins (config: Pick<Config, 'PUBLIC_URL' | 'ALLOWED_ORIGINS'>): string[] {
  if (config.ALLOWED_ORIGINS === undefined) return [publicOrigin(config)]
  return config.ALLOWED_ORIGINS.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '').map((origin) => new URL(origin).origin)
}

/** Fastify's trustProxy from TRUST_PROXY: off by default, so X-Forwarded-For is ignored unless trusted. */
export function trustProxy (config: Pick<Config, 'TRUST_PROXY'>): boolean | string[] | ((address: string, hop: number) => boolean) {
  const value = config.TRUST_PROXY?.trim()
  if (value === undefined || value === '' || value === 'false' || value === '0') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  return value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
}
