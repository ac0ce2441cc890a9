import fp from 'fastify-plugin'
import { listeningOrigin } from '../../src/util/listening-url.js'
import { wechatEndpoints } from '../../src/wechat/endpoints.js'

declare module 'fastify' {
  interface FastifyInstance {
    endpoints: ReturnType<typeof wechatEndpoints>
  }
}

/** Where WeChat is, real or emulated (src/wechat/endpoints.ts), decided once for every plugin and route. */
export default fp(async function endpointsPlugin (fastify) {
  fastify.decorate('endpoints', wechatEndpoints(fastify.config, () => listeningOrigin(fastify.server)))
}, { name: 'endpoints', fastify: '5.x', dependencies: ['config'] })
