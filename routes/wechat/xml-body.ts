import { Transform, pipeline } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import xmlBodyParser from 'fastify-xml-body-parser'
import { XML_PARSER_OPTIONS, hasDtdMarkup } from '../../src/wechat/xml.js'
import { BodyTooLarge, ForbiddenMarkup } from '../errors.js'

/**
 * fastify-xml-body-parser reads the raw stream: it skips bodyLimit and decodes each chunk on its
 * own (a Chinese character split across TCP packets turns into U+FFFD). This guard, run in
 * preParsing, refuses bodies over the limit before they are buffered, hands the parser whole UTF-8
 * characters, and refuses DTD markup (DOCTYPE, ENTITY) outside CDATA once the body is complete.
 */
export function guardXmlStream (limit: number) {
  return async function preParsing (request: FastifyRequest, _reply: unknown, payload: NodeJS.ReadableStream) {
    const declared = Number(request.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge(limit)
    let received = 0
    const chunks: Buffer[] = []
    const guarded = new Transform({
      transform (chunk: Buffer, _encoding, callback) {
        received += chunk.length
        if (received > limit) {
          callback(new BodyTooLarge(limit))
          return
        }
        chunks.push(chunk)
        callback()
      },
      flush (callback) {
        const text = Buffer.concat(chunks).toString('utf8')
        if (hasDtdMarkup(text)) {
          callback(new ForbiddenMarkup())
          return
        }
        // One string, so the parser cannot split a character.
        callback(null, text)
      }
    })
    guarded.setEncoding('utf8')
    // The XML parser listens for these errors and answers 413/400. When no parser reads the body
    // (a content type we do not parse is answered 415 first), nobody else would: without a
    // listener an oversized or DTD-bearing body sent as text/plain would crash the process.
    guarded.on('error', () => {})
    // pipeline, not pipe: a client that aborts mid-body must end the parse, not leave it dangling.
    return pipeline(payload, guarded, () => {})
  }
}

/**
 * Only this scope parses XML (with the one configuration of src/wechat/xml.ts: every value a
 * string, no entities), and only the content types WeChat sends; anything else is a 415.
 */
export async function registerXmlParser (fastify: FastifyInstance, limit: number): Promise<void> {
  fastify.removeAllContentTypeParsers()
  await fastify.register(xmlBodyParser, { contentType: ['text/xml', 'application/xml'], validate: true, ...XML_PARSER_OPTIONS })
  fastify.addHook('preParsing', guardXmlStream(limit))
}
