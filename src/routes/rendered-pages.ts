import { randomBytes } from 'node:crypto'

// The wizard's page of a large user is about 200 KB of HTML over 2,000 repositories: once the
// plan itself was kept (plan-cache.ts), building and rendering that page again on every visit,
// and on every reload while something runs, was most of what a visit cost. An instance keeps
// the page it last rendered for each user, with what it was rendered from, and sends it again
// while that is the same. What it was rendered from is the plan and the removal tasks of its
// hooks (their caches hand out the same objects while their rows are unchanged) and one string
// of every other value the page shows, which the route builds; the CSRF token, new on every
// response, is rendered as a marker and put in afresh each time. The page is kept as UTF-8
// bytes: joining 200 KB of text and encoding it again on every response held the wizard page's
// benchmark at 290-360 pages a second; copying the kept bytes, at about 450.

export interface RenderedPages {
  /**
   * The page of `userId` with `csrf` in it: the kept one when it was rendered from these
   * `sources` (the very objects) and these `inputs`, else the one `render` renders (with the
   * token it is given) and keeps; as UTF-8.
   */
  page(userId: number, sources: readonly object[], inputs: string, csrf: string, render: (csrf: string) => Promise<string>): Promise<Buffer>
}

/** Keeps the pages of the `size` users who visited most recently. */
export function renderedPages(size = 32): RenderedPages {
  // Random per instance: a page's own text cannot contain it by chance.
  const marker = `csrf${randomBytes(16).toString('hex')}`
  const kept = new Map<number, { sources: readonly object[]; inputs: string; parts: Buffer[] }>()
  const withToken = (parts: Buffer[], csrf: string): Buffer => {
    const token = Buffer.from(csrf)
    const chunks: Buffer[] = [parts[0]!]
    for (let i = 1; i < parts.length; i++) chunks.push(token, parts[i]!)
    return Buffer.concat(chunks)
  }
  return {
    async page(userId, sources, inputs, csrf, render) {
      const hit = kept.get(userId)
      // Visited most recently last: the first key is the one to let go.
      kept.delete(userId)
      if (hit !== undefined && hit.inputs === inputs && hit.sources.length === sources.length && hit.sources.every((s, i) => s === sources[i])) {
        kept.set(userId, hit)
        return withToken(hit.parts, csrf)
      }
      const parts = (await render(marker)).split(marker).map((part) => Buffer.from(part))
      kept.set(userId, { sources, inputs, parts })
      if (kept.size > size) kept.delete(kept.keys().next().value!)
      return withToken(parts, csrf)
    },
  }
}
