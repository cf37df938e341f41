// Reading query strings and form or JSON bodies, which arrive as unknown shapes: a field may be
// missing, repeated (an array) or, in JSON, not a string at all.

export type Fields = Record<string, unknown>

export function fields(...sources: unknown[]): Fields {
  const out: Fields = {}
  for (const source of sources) {
    if (typeof source === 'object' && source !== null) Object.assign(out, source)
  }
  return out
}

/** A field's single string value; the first one when repeated, undefined when absent or empty. */
export function text(from: Fields, name: string): string | undefined {
  const value = from[name]
  const first: unknown = Array.isArray(value) ? value[0] : value
  return typeof first === 'string' && first !== '' ? first : undefined
}

/** Every string value of the fields named, in order, whether each is repeated or single. */
export function texts(from: Fields, ...names: string[]): string[] {
  const out: string[] = []
  for (const name of names) {
    const value = from[name]
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') out.push(v)
  }
  return out
}

/** Only paths on this site: an open redirect through the sign-in page would help phishing. */
export function localPath(value: string | undefined): string {
  return value !== undefined && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/'
}

/** `url` with the parameters that have a value added to its query. */
export function withQuery(url: string, params: Record<string, string | undefined>): string {
  const out = new URL(url)
  for (const [name, value] of Object.entries(params)) if (value !== undefined) out.searchParams.set(name, value)
  return out.toString()
}
