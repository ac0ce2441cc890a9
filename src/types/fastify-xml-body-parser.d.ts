declare module 'fastify-xml-body-parser' {
  import type { FastifyPluginCallback } from 'fastify'
  import type { X2jOptions } from 'fast-xml-parser'

  const plugin: FastifyPluginCallback<Partial<X2jOptions> & { contentType?: string | string[], validate?: boolean }>
  export default plugin
}
