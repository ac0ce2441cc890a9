/** Longest return_to accepted: the login code is appended, and WeChat's redirect_uri is not involved. */
export const RETURN_TO_MAX_LENGTH = 2048

/**
 * The return_to to use, or null: an absolute http(s) URL whose origin is exactly one of `origins`,
 * without user:password@ (which only ever serves to disguise where a link goes).
 */
export function checkReturnTo (value: string, origins: ReadonlySet<string>): string | null {
  if (value.length > RETURN_TO_MAX_LENGTH) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  if (url.username !== '' || url.password !== '') return null
  return origins.has(url.origin) ? url.toString() : null
}

/** return_to with `code` set (replacing any), before the fragment: the site's page reads it from the query. */
export function withCode (returnTo: string, code: string): string {
  const url = new URL(returnTo)
  url.searchParams.set('code', code)
  return url.toString()
}
