import type { FastifyInstance } from 'fastify'

// A browser for the simulator's web pages over fastify's inject: keeps cookies, does not follow
// redirects (tests look at them), and fills in the CSRF token of the last page, as a person's
// browser submitting the page's form would.

export interface Page {
  status: number
  body: string
  location: string | undefined
  headers: Record<string, unknown>
}

export type Form = Record<string, string | string[] | undefined>

export class Browser {
  readonly cookies = new Map<string, string>()
  /** The CSRF token of the last page with a form. */
  csrf: string | undefined

  constructor(readonly app: FastifyInstance) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  private keep(headers: Record<string, unknown>): void {
    const raw = headers['set-cookie']
    for (const line of Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) {
      const [pair] = String(line).split(';')
      const at = pair!.indexOf('=')
      const name = pair!.slice(0, at)
      const value = pair!.slice(at + 1)
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(String(line))) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  private page(res: { statusCode: number; body: string; headers: Record<string, unknown> }): Page {
    this.keep(res.headers)
    const csrf = /name="_csrf" value="([^"]+)"/.exec(res.body)
    if (csrf) this.csrf = csrf[1]
    return { status: res.statusCode, body: res.body, location: res.headers['location'] as string | undefined, headers: res.headers }
  }

  async get(url: string): Promise<Page> {
    return this.page(await this.app.inject({ method: 'GET', url, headers: { cookie: this.cookieHeader() } }))
  }

  /** Posts a form; `_csrf` is the last page's token unless the form names its own. */
  async post(url: string, form: Form = {}): Promise<Page> {
    const body = new URLSearchParams()
    const fields = { _csrf: this.csrf, ...form }
    for (const [name, value] of Object.entries(fields)) {
      for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) body.append(name, v)
    }
    return this.page(
      await this.app.inject({
        method: 'POST',
        url,
        headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
        payload: body.toString(),
      }),
    )
  }

  async signIn(login: string): Promise<void> {
    await this.get('/login')
    const res = await this.post('/login', { login })
    if (res.status !== 303) throw new Error(`sign-in as ${login} failed: ${res.status}`)
  }
}

/** The query parameters of a redirect's Location. */
export function query(location: string | undefined): URLSearchParams {
  return new URL(location ?? '', 'http://x').searchParams
}
