/**
 * A plaintext push's signature covers token, timestamp and nonce, not the body: whoever sees one
 * signed URL could send another body with it until the timestamp leaves the window. The ledger
 * remembers which body (by fingerprint) each signature came with. Drivers: Redis, in-process.
 */
export type SignatureClaim =
  /** Never seen: this body is now the signature's. */
  | 'first'
  /** Seen with this very body: WeChat retrying, deduplicated further on. */
  | 'same'
  /** Seen with another body: a reused signature. */
  | 'different'

export interface SignatureLedger {
  claim (signature: string, fingerprint: string, ttlMs: number): Promise<SignatureClaim>
}
