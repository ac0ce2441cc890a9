/**
 * The inline floor of scan-to-page: the least a server can do to turn WeChat's push into "confirmed"
 * on the page, with no queue. The push's signature is checked, its XML parsed, user/info called on
 * WeChat, the state written to Redis and published; the instance holding the page's socket (this
 * one or another) forwards it. The same HTTP client, XML parser, Redis client and WebSocket plugin
 * as ours, the same routes and messages, so one load generator drives both; no rate limits, no
 * retries, no secret check, no logs. Run as two processes for the two-instance comparison.
 */
import websocket from '@fastify/websocket'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { Agent } from 'undici'
import type { WebSocket } from 'ws'
import { toScanJob } from '../../src/jobs/definitions.js'
import { newBrowserSecret, newLoginCode, newScene } from '../../src/login/tokens.js'
import { createWeChatClient } from '../../src/wechat/client.js'
import { toWeChatMessage } from '../../src/wechat/events.js'
import { createWeChatHttp } from '../../src/wechat/http.js'
import { verifyRequestSignature } from '../../src/wechat/signature.js'
import { fetchStableToken } from '../../src/wechat/token-source.js'
import { parseXml } from '../../src/wechat/xml.js'
import { settledMemory } from './memory.js'
import { floorEnv } from './floor-env.js'
import { announce, handleTasks } from './tasks.js'

const LOGIN_TTL_SECONDS = 900
const env = floorEnv()
const wechatSettings = env.wechat()
const http = createWeChatHttp({ baseUrl: () => wechatSettings.base, timeoutMs: 5000, dispatcher: new Agent({ keepAliveTimeout: 10_000 }) })
// One token for the run: the floor does not refresh (the emulator's last two hours).
const { access_token: token } = await fetchStableToken(http, wechatSettings.appId, wechatSettings.appSecret, false)
const wechat = createWeChatClient({ http, tokens: { get: async () => token, replace: async () => token } })

const redis = new Redis(env.redisUrl)
const subscriber = redis.duplicate()
const stateKey = (scene: string) => `${env.prefix}login:${scene}`
const channel = (scene: string) => `${env.prefix}events:${scene}`
const status = (value: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'status', status: value, expiresIn: LOGIN_TTL_SECONDS, ...extra })

/** Sockets by channel; one Redis subscription per channel, as ours. */
const watchers = new Map<string, Set<WebSocket>>()
subscriber.on('message', (name: string, message: string) => {
  for (const socket of watchers.get(name) ?? []) socket.send(message)
})

const fastify = Fastify({ logger: false, forceCloseConnections: true })
fastify.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_request, body, done) => done(null, body))
await fastify.register(websocket)

fastify.post('/api/login/qr', async (_request, reply) => {
  const scene = newScene()
  const qr = await wechat.createQrCode(scene, LOGIN_TTL_SECONDS)
  await redis.set(stateKey(scene), status('pending'), 'EX', LOGIN_TTL_SECONDS)
  return reply.code(201).send({ scene, secret: newBrowserSecret(), ticket: qr.ticket })
})

fastify.get('/api/login/ws', { websocket: true }, (socket) => {
  socket.once('message', (data) => {
    const { scene } = JSON.parse(String(data)) as { scene: string }
    const name = channel(scene)
    let sockets = watchers.get(name)
    const subscribed = sockets === undefined ? subscriber.subscribe(name) : Promise.resolve()
    if (sockets === undefined) watchers.set(name, sockets = new Set())
    sockets.add(socket)
    socket.on('close', () => {
      sockets.delete(socket)
      if (sockets.size > 0 || watchers.get(name) !== sockets) return
      watchers.delete(name)
      subscriber.unsubscribe(name).catch(() => {})
    })
    // Subscribed first, then the state: a change in between is not missed.
    subscribed.then(() => redis.get(stateKey(scene))).then((state) => socket.send(state ?? status('expired')), () => socket.close(1011))
  })
})

fastify.post('/wechat/webhook', async (request, reply) => {
  if (!verifyRequestSignature(env.token, request.query as Record<string, unknown>)) return reply.code(401).send()
  const message = toWeChatMessage(parseXml(request.body as string))
  const scan = message === null ? null : toScanJob(message)
  if (scan !== null) {
    const user = await wechat.userInfo(scan.openid)
    const confirmed = status('confirmed', { code: newLoginCode(), openid: user.openid })
    await redis.set(stateKey(scan.scene), confirmed, 'EX', LOGIN_TTL_SECONDS)
    await redis.publish(channel(scan.scene), confirmed)
  }
  return reply.type('text/plain').send('success')
})

await fastify.listen({ port: 0, host: '127.0.0.1' })
const { port } = fastify.server.address() as { port: number }
handleTasks({ memory: settledMemory })
announce({ url: `http://127.0.0.1:${port}` })
