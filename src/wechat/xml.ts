import { XMLParser, XMLValidator, type X2jOptions } from 'fast-xml-parser'

/**
 * The one XML configuration for WeChat bodies (webhook pushes and decrypted messages): every value
 * stays the exact string sent ("0123" is not 123, a 19-digit MsgId keeps its digits), entities
 * are never expanded, attributes are dropped. trimValues only trims the whitespace between
 * elements and around plain text: CDATA is kept verbatim either way, and without it the
 * indentation of a pretty-printed body (vectors E1, E3) would surface as a "#text" field.
 */
export const XML_PARSER_OPTIONS = Object.freeze({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true
} as const satisfies Partial<X2jOptions>)

export type XmlErrorReason = 'dtd' | 'invalid' | 'root'

/** A body we refuse to parse. Callers answer 400; the message never quotes the body. */
export class XmlError extends Error {
  readonly reason: XmlErrorReason

  constructor (reason: XmlErrorReason, message: string) {
    super(message)
    this.name = 'XmlError'
    this.reason = reason
  }
}

const parser = new XMLParser(XML_PARSER_OPTIONS)

/**
 * True when `<!` opens anything but a comment or a CDATA section: DOCTYPE, ENTITY and the other
 * DTD declarations. One linear pass over the markup in document order, skipping comments and CDATA
 * whole as the parser does, so a text message that quotes "<!DOCTYPE" inside its CDATA is
 * accepted. A processing instruction is read whole too, so one that merely contains "<!--" or
 * "<![CDATA[" cannot hide a DOCTYPE after it; a declaration inside one is refused as well (no
 * WeChat push has a processing instruction beyond <?xml ?>, and no parser may be trusted to agree
 * where an odd one ends).
 */
export function hasDtdMarkup (text: string): boolean {
  let at = text.indexOf('<')
  while (at !== -1) {
    let end: number
    if (text.startsWith('<?', at)) {
      end = skipPast(text, '?>', at + 2)
      if (DECLARATION.test(text.slice(at, end === -1 ? undefined : end))) return true
    } else if (text.startsWith('<![CDATA[', at)) {
      end = skipPast(text, ']]>', at + 9)
    } else if (text.startsWith('<!--', at)) {
      end = skipPast(text, '-->', at + 4)
    } else if (text.startsWith('<!', at)) {
      return true
    } else {
      end = at + 1
    }
    // Unterminated: the validator refuses it; a declaration in what is left is refused here anyway.
    if (end === -1) return DECLARATION.test(text.slice(at))
    at = text.indexOf('<', end)
  }
  return false
}

/** `<!` and a letter: a declaration (DOCTYPE, ENTITY, ELEMENT, ATTLIST, NOTATION), in any case. */
const DECLARATION = /<![A-Za-z]/

/** The index after `terminator`'s first occurrence from `from`, or -1. */
function skipPast (text: string, terminator: string, from: number): number {
  const found = text.indexOf(terminator, from)
  return found === -1 ? -1 : found + terminator.length
}

/** Parses a WeChat XML body: DTDs refused, validated first, exactly one root element. */
export function parseXml (text: string): unknown {
  if (typeof text !== 'string') throw new XmlError('invalid', 'XML body must be a string')
  if (hasDtdMarkup(text)) throw new XmlError('dtd', 'DOCTYPE, ENTITY and other DTD declarations are refused')
  const valid = XMLValidator.validate(text)
  if (valid !== true) throw new XmlError('invalid', `invalid XML (${valid.err.code} at ${valid.err.line}:${valid.err.col})`)
  let parsed: unknown
  try {
    parsed = parser.parse(text)
  } catch {
    // The parser still throws on what the validator lets through (nesting deeper than its limit).
    throw new XmlError('invalid', 'XML could not be parsed')
  }
  if (parsed === null || typeof parsed !== 'object') throw new XmlError('root', 'XML has no root element')
  const roots = Object.values(parsed)
  if (roots.length !== 1 || Array.isArray(roots[0])) throw new XmlError('root', 'XML must have exactly one root element')
  return parsed
}
