import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { installWithEvents } from '../../src/simulator/install-events.js'
import { targetFrom } from '../../src/simulator/web/install-target.js'
import type { Service } from './service.js'
import { codeFor } from './sign-in.js'
import type { StartedSimulator } from './simulator.js'

// Walking the wizard as a browser would, with GitHub's side played on the simulator's state:
// what its install page does when the user presses Install (or Request), and the code its
// authorization page hands back.

export function csrfOf(body: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(body)
  if (match === null) throw new Error('no CSRF token on the page')
  return match[1]!
}

/** The page as it is now: on /migrate, possibly planning's progress. */
export async function viewNow(app: FastifyInstance, cookie: string, url = '/migrate'): Promise<LightMyRequestResponse> {
  return app.inject({ url, cookies: { [SESSION_COOKIE]: cookie } })
}

/** GET /migrate/progress's answer, as the page's script reads it. */
export interface PageProgress {
  underWay: boolean
  state: string | null
  text: string | null
  coverage: { ownerId: number; underWay: boolean; text: string | null }[]
  cleanup: { ownerId: number; underWay: boolean; text: string }[]
}

/** GET /migrate/progress, as the page's script reads it. */
async function progressOf(app: FastifyInstance, cookie: string): Promise<PageProgress> {
  const res = await app.inject({ url: '/migrate/progress', cookies: { [SESSION_COOKIE]: cookie }, headers: { accept: 'application/json' } })
  if (res.statusCode !== 200) throw new Error(`GET /migrate/progress answered ${res.statusCode}`)
  return res.json<PageProgress>()
}

/** Planning's progress, as the page's script reads it. */
export async function planningProgress(app: FastifyInstance, cookie: string): Promise<Omit<PageProgress, 'coverage' | 'cleanup'>> {
  // The owners' coverage checks, beside it, are for tests of their own.
  const { underWay, state, text } = await progressOf(app, cookie)
  return { underWay, state, text }
}

/** Whether the user's planning, a coverage check or the removal of old hooks of one of their owners is under way. */
export async function workUnderWay(app: FastifyInstance, cookie: string): Promise<boolean> {
  const { underWay, coverage, cleanup } = await progressOf(app, cookie)
  return underWay || coverage.some((c) => c.underWay) || cleanup.some((c) => c.underWay)
}

/** Waits, as the page does, until the user's planning, the coverage checks and removals it asked for have ended. */
export async function planned(app: FastifyInstance, cookie: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (await workUnderWay(app, cookie)) {
    if (Date.now() > deadline) throw new Error('planning did not end')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The page once planning (which a first visit starts), its coverage checks and removals have ended, as a person who waits sees it. */
export async function view(app: FastifyInstance, cookie: string, url = '/migrate'): Promise<LightMyRequestResponse> {
  const page = await viewNow(app, cookie, url)
  if (!/data-(coverage-|cleanup-)?progress/.test(page.body)) return page
  await planned(app, cookie)
  return viewNow(app, cookie, url)
}

/** Presses a form's button on /migrate: a POST with the page's CSRF token. */
export async function press(app: FastifyInstance, cookie: string, action: string): Promise<LightMyRequestResponse> {
  const page = await view(app, cookie)
  return app.inject({ method: 'POST', url: action, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body) } })
}

/** The action of the form on /migrate whose button reads `label`. */
export function formAction(body: string, label: string | RegExp): string {
  const forms = body.split('<form').slice(1)
  const form = forms.find((f) => (typeof label === 'string' ? f.includes(label) : label.test(f)))
  if (form === undefined) throw new Error(`no form with ${String(label)} on the page`)
  return /action="([^"]+)"/.exec(form)![1]!
}

/**
 * GitHub's install page, submitted by `login` as the link preselected it (or with all
 * repositories): returns where GitHub sends the browser, the App's setup URL.
 */
export function installOnGitHub(sim: StartedSimulator, link: string, login: string, selection?: 'all' | 'selected'): string {
  const url = new URL(link)
  const params: Record<string, string | string[]> = { suggested_target_id: url.searchParams.get('suggested_target_id')! }
  const ids = url.searchParams.getAll('repository_ids[]')
  const user = sim.state.userByLogin(login)!
  const target = targetFrom(sim.state, user, params)!
  const chosen = selection ?? (ids.length > 0 ? 'selected' : 'all')
  const wanted = new Set(ids.map(Number))
  const repoIds = target.repos.filter((r) => wanted.has(r.id)).map((r) => r.id)
  const setup = new URL(sim.state.app.setup_url!)
  const state = url.searchParams.get('state')
  if (target.relation === 'member') {
    const id = sim.state.newId()
    sim.state.requests.set(id, { id, accountId: target.account.id, requesterId: user.id, repositorySelection: chosen, repositoryIds: repoIds, createdAt: new Date() })
    setup.searchParams.set('setup_action', 'request')
  } else {
    const { installation, action } = installWithEvents(sim.state, target.account.id, chosen, repoIds, user)
    setup.searchParams.set('installation_id', String(installation.id))
    setup.searchParams.set('setup_action', action)
  }
  if (state !== null) setup.searchParams.set('state', state)
  return `${setup.pathname}${setup.search}`
}

/**
 * Follows GET /github/setup through GitHub's authorization (which GitHub passes without a page
 * for a user who authorized the App before) back to /auth/callback, as `userId` on GitHub.
 */
export async function followSetup(app: FastifyInstance, sim: StartedSimulator, cookie: string | undefined, setupPath: string, userId: number): Promise<LightMyRequestResponse> {
  const cookies: Record<string, string> = cookie === undefined ? {} : { [SESSION_COOKIE]: cookie }
  const setup = await app.inject({ url: setupPath, cookies })
  if (setup.statusCode !== 302 || !String(setup.headers.location).startsWith(sim.url)) return setup
  const authorize = new URL(setup.headers.location as string)
  const code = codeFor(sim, authorize, userId)
  const session = setup.cookies.find((c) => c.name === SESSION_COOKIE)?.value ?? cookie
  return app.inject({ url: `/auth/callback?code=${code}&state=${authorize.searchParams.get('state')}`, cookies: session === undefined ? {} : { [SESSION_COOKIE]: session } })
}

/** Waits until GitHub's webhooks are delivered and every job they queued has run. */
export async function settled(service: Pick<Service, 'sim' | 'tdb'>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    await service.sim.sim.delivery.settle()
    const { rows } = await sql<{ open: number }>`
      select count(*)::int as open from pgboss.job where state in ('created', 'retry', 'active')`.execute(service.tdb.db)
    if (rows[0]!.open === 0) return
    if (Date.now() > deadline) throw new Error(`${rows[0]!.open} jobs still open`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Audit actions, in order. */
export async function auditActions(service: Pick<Service, 'tdb'>): Promise<string[]> {
  const rows = await service.tdb.db.selectFrom('app.audit_event').select('action').orderBy('id').execute()
  return rows.map((r) => r.action)
}
