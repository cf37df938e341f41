import type { FastifyReply, FastifyRequest } from 'fastify'

// GitHub's REST pagination: `per_page` (default 30, at most 100) and `page`, and a Link header of
// absolute URLs in GitHub's order (prev, next, last, first), which octokit's paginate follows.

const DEFAULT_PER_PAGE = 30
const MAX_PER_PAGE = 100

function positiveInt(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN
  return n >= 1 ? n : undefined
}

export function pageOf(query: unknown): { page: number; perPage: number } {
  const q = query as Record<string, unknown>
  return {
    page: positiveInt(q['page']) ?? 1,
    perPage: Math.min(positiveInt(q['per_page']) ?? DEFAULT_PER_PAGE, MAX_PER_PAGE),
  }
}

/** The requested page of `items`; sets the Link header when there is more than one page. */
export function paginate<T>(request: FastifyRequest, reply: FastifyReply, origin: string, items: readonly T[]): T[] {
  const { page, perPage } = pageOf(request.query)
  const last = Math.max(1, Math.ceil(items.length / perPage))
  const links: string[] = []
  const link = (n: number, rel: string): void => {
    const url = new URL(request.url, origin)
    url.searchParams.set('page', String(n))
    links.push(`<${url.href}>; rel="${rel}"`)
  }
  if (page > 1) link(Math.min(page - 1, last), 'prev')
  if (page < last) {
    link(page + 1, 'next')
    link(last, 'last')
  }
  if (page > 1) link(1, 'first')
  if (links.length > 0) reply.header('link', links.join(', '))
  return items.slice((page - 1) * perPage, page * perPage)
}
