import { Readable, finished } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
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
  return function preParsing (request: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream & Readable, done: (error: Error | null, body?: Readable) => void): void {
    const declared = Number(request.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) {
      done(new BodyTooLarge(limit))
      return
    }
    // One whole string in one chunk: plain listeners, not a Transform in a pipeline (a stream pair,
    // an AbortController and their listeners for every push, measurable at thousands a second).
    const body = new Readable({ objectMode: true, read () {} })
    // The XML parser listens for these errors and answers 413/400. When no parser reads the body
    // (a content type we do not parse is answered 415 first), nobody else would: without a
    // listener an oversized or DTD-bearing body sent as text/plain would crash the process.
    body.on('error', () => {})
    const chunks: Buffer[] = []
    let received = 0
    const refuse = (error: Error) => {
      payload.removeListener('data', collect)
      // Read on (unbuffered) so the refusal can be answered, then the connection ends with it: a
      // client streaming a huge body holds nothing of ours, and not for longer than the answer.
      payload.resume()
      reply.header('connection', 'close')
      body.destroy(error)
    }
    const collect = (chunk: Buffer) => {
      received += chunk.length
      if (received > limit) refuse(new BodyTooLarge(limit))
      else chunks.push(chunk)
    }
    payload.on('data', collect)
    // finished(), not 'end' alone: a client that aborts mid-body must end the parse, not leave it dangling.
    finished(payload, (error) => {
      if (body.destroyed) return
      if (error !== undefined && error !== null) {
        body.destroy(error)
        return
      }
      const text = Buffer.concat(chunks, received).toString('utf8')
      if (hasDtdMarkup(text)) {
        body.destroy(new ForbiddenMarkup())
        return
      }
      body.push(text)
      body.push(null)
    })
    done(null, body)
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
