import type { FastifyError, FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { isBackendUnavailable } from './errors.js'
import { WeChatApiError, WeChatTransportError, errcodeAdvice } from './wechat/errors.js'
import websocket from '../plugins/external/websocket.js'
import helmet from '../plugins/external/helmet.js'
import rateLimit from '../plugins/external/rate-limit.js'
import staticFiles from '../plugins/external/static.js'
import configPlugin from '../plugins/app/config.js'
import drivers from '../plugins/app/drivers.js'
import wechat from '../plugins/app/wechat.js'
import logins from '../plugins/app/logins.js'
import worker from '../plugins/app/worker.js'
import healthRoutes from '../routes/health/index.js'
import loginRoutes from '../routes/login/index.js'
import wechatRoutes from '../routes/wechat/index.js'
import emulatorRoutes from '../routes/emulator/index.js'
import oauth from '../plugins/app/oauth.js'
import oauthRoutes from '../routes/oauth/index.js'
import { oauthEnabled } from './oauth/settings.js'

export interface AppOptions {
  config: Config
  /** 'server' serves HTTP (and runs the worker unless RUN_WORKER=0); 'worker' only processes jobs. */
  role?: 'server' | 'worker'
}

/** The whole service as one plugin; server.ts and worker.ts own the process around it. */
export default async function app (fastify: FastifyInstance, { config, role = 'server' }: AppOptions): Promise<void> {
  if (config.REDIS_URL === undefined && (role === 'worker' || !config.RUN_WORKER)) {
    // In-process state is invisible to other processes: a separate worker would never see a job.
    throw new Error('Embedded mode (REDIS_URL unset) is one process that runs its own worker: set REDIS_URL to split web and worker')
  }
  await fastify.register(configPlugin, { config })
  await fastify.register(drivers)
  await fastify.register(wechat)
  await fastify.register(logins)
  if (role === 'worker' || config.RUN_WORKER) await fastify.register(worker)

  fastify.setErrorHandler(rootErrorHandler)
  fastify.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found' }))

  if (role === 'worker') return

  await fastify.register(helmet)
  await fastify.register(rateLimit)
  await fastify.register(websocket)
  await fastify.register(healthRoutes)
  await fastify.register(loginRoutes, { prefix: '/api/login' })
  await fastify.register(wechatRoutes, { prefix: '/wechat' })
  if (oauthEnabled(config)) {
    await fastify.register(oauth)
    await fastify.register(oauthRoutes)
  }
  if (config.WECHAT_EMULATOR) {
    fastify.log.warn('WECHAT EMULATOR ENABLED: /_emulator impersonates WeChat; never run this in production')
    await fastify.register(emulatorRoutes, { prefix: '/_emulator' })
  }
  await fastify.register(staticFiles)
}

/** 5xx bodies never carry internal messages; WeChat's failures become 502 with its errcode. */
async function rootErrorHandler (this: FastifyInstance, error: FastifyError, request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) {
  if (error instanceof WeChatApiError) {
    const advice = errcodeAdvice(error.errcode)
    // errmsg is WeChat's own text (for 40164 it names the refused IP); never a secret.
    request.log.error({ api: error.api, errcode: error.errcode, errmsg: error.errmsg, rid: error.rid, advice }, 'WeChat API error')
    return reply.code(502).send({
      error: 'wechat_error',
      errcode: error.errcode,
      message: `WeChat ${error.api} returned errcode ${error.errcode}${advice === undefined ? '' : `: ${advice}`}`
    })
  }
  if (error instanceof WeChatTransportError) {
    request.log.error({ api: error.api, failure: error.failure }, 'WeChat unreachable')
    return reply.code(502).send({ error: 'wechat_unreachable', message: `WeChat ${error.api}: ${error.failure}` })
  }
  if (isBackendUnavailable(error)) {
    request.log.error({ err: error }, 'state store unavailable')
    return reply.code(503).header('retry-after', '1').send({ error: 'unavailable' })
  }
  if (error.validation !== undefined) {
    return reply.code(400).send({ error: 'bad_request', message: error.message })
  }
  const status = error.statusCode ?? 500
  if (status < 500) {
    // Logged as `error`: the logger redacts every `code` key (login codes are called that).
    request.log.info({ error: error.code, reason: error.message }, 'request refused')
    return reply.code(status).send({ error: error.code ?? 'bad_request', message: error.message })
  }
  request.log.error({ err: error }, 'request failed')
  return reply.code(500).send({ error: 'internal_error' })
}
