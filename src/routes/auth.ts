import type { StaffRole } from '../config.js'
import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { FastifyReply } from 'fastify'
import type { GitHubClients } from '../github/clients.js'
import { authorizationUrl, createPkce, exchangeCode, OAuthExchangeError } from '../github/oauth.js'
import { githubStatus } from '../github/token-fault.js'
import { appendAudit } from '../migration/audit.js'
import { freezeUser } from '../migration/before-snapshot.js'
import { verifySetup, type PendingSetup, type SetupJobs } from '../migration/setup.js'
import { HttpError } from '../plugins/error-handler.js'
import { sameSecret } from '../same-secret.js'

// Sign-in with the GitHub App's user authorization (web flow, one-time state bound to the
// session, PKCE S256). The user token is used for this request only, to learn who signed in:
// it is never stored, logged or shown.

export interface SignedInUser {
  id: number
  login: string
}

declare module 'fastify' {
  interface Session {
    user?: SignedInUser
    /** The authorizations under way, by their state: one per tab that started one. */
    oauth?: Record<string, PendingAuthorization>
  }
}

/**
 * An authorization under way: its PKCE verifier, when it started, and, when it was started to
 * verify an installation, what GitHub's setup redirect claimed.
 */
export interface PendingAuthorization {
  verifier: string
  startedAt: number
  setup?: PendingSetup
}

export interface AuthRoutesOptions {
  github: GitHubClients
  publicUrl: string
  /** STAFF: staff land on the console after signing in, everyone else on the wizard. */
  staff: ReadonlyMap<string, StaffRole>
}

/** A sign-in not finished within this time has to start again. */
const SIGN_IN_WINDOW_MS = 10 * 60_000
/**
 * Authorizations kept under way in one session: two tabs back from installing on two owners
 * each have theirs, while a page reloaded over and over cannot grow the session without end.
 */
const MAX_PENDING = 5

/** The authorization this state started, if this session has it; spent by being taken. */
function takeAuthorization(request: FastifyRequest, state: string | undefined): PendingAuthorization | undefined {
  const pending = request.session.get('oauth') ?? {}
  const key = Object.keys(pending).find((k) => sameSecret(k, state))
  if (key === undefined) return undefined
  const { [key]: taken, ...rest } = pending
  request.session.set('oauth', rest)
  return taken
}

export function viewerOf(request: FastifyRequest): SignedInUser | undefined {
  return request.session.get('user')
}

/**
 * Sends the browser to GitHub's authorization page; GitHub skips the page for a user who
 * already authorized the App, so verifying an installation this way costs no click.
 */
export function authorizeOnGitHub(request: FastifyRequest, reply: FastifyReply, github: GitHubClients, publicUrl: string, setup?: PendingSetup): FastifyReply {
  const pkce = createPkce()
  const state = randomBytes(32).toString('base64url')
  const now = Date.now()
  // Kept in the order they started: the expired ones and the oldest past the bound give way.
  const kept = Object.entries(request.session.get('oauth') ?? {})
    .filter(([, p]) => now - p.startedAt <= SIGN_IN_WINDOW_MS)
    .slice(-(MAX_PENDING - 1))
  const started: PendingAuthorization = { verifier: pkce.verifier, startedAt: now, ...(setup === undefined ? {} : { setup }) }
  request.session.set('oauth', Object.fromEntries([...kept, [state, started]]))
  const { webUrl, clientId } = github.config
  return reply.redirect(authorizationUrl({ webUrl, clientId, redirectUri: `${publicUrl}/auth/callback`, state, codeChallenge: pkce.challenge }))
}

export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (app, { github, publicUrl, staff }) => {
  const redirectUri = `${publicUrl}/auth/callback`
  const { webUrl, clientId, clientSecret } = github.config

  app.get('/auth/login', { config: { rateLimit: {} } }, async (request, reply) => authorizeOnGitHub(request, reply, github, publicUrl))

  app.get<{ Querystring: { code?: string; state?: string | string[]; error?: string } }>('/auth/callback', { config: { rateLimit: {} } }, async (request, reply) => {
    const { code, state, error } = request.query
    // One use: whatever happens next, this state is spent (the other tabs' stay as they are).
    // A state given twice arrives as a list, which no sign-in of this service sends.
    const pending = takeAuthorization(request, typeof state === 'string' ? state : undefined)
    if (error === 'access_denied') {
      return reply.code(400).view('signed-out.eta', { title: 'Sign-in cancelled', message: 'You cancelled the sign-in on GitHub. Nothing was changed.' })
    }
    if (pending === undefined || Date.now() - pending.startedAt > SIGN_IN_WINDOW_MS) {
      throw new HttpError(400, 'This sign-in link has expired or was already used, or was started in another browser. Please sign in again.')
    }
    if (code === undefined || code === '') throw new HttpError(400, 'GitHub sent no authorization code. Please sign in again.')
    // GitHub not answering (an outage, the network) is said as such, never an error page.
    const unanswered = (what: string, link = '/auth/login', label = 'Sign in with GitHub') =>
      reply.view('signed-out.eta', { title: 'GitHub did not answer', message: `GitHub did not answer while ${what}. Nothing was changed: try again in a moment.`, link, label })
    let token: string
    try {
      token = (await exchangeCode({ webUrl, clientId, clientSecret, code, redirectUri, codeVerifier: pending.verifier })).token
    } catch (failure) {
      if (failure instanceof OAuthExchangeError) {
        request.log.info({ error: failure.error }, 'GitHub refused the sign-in code')
        throw new HttpError(400, 'GitHub did not accept this sign-in (the code may have expired). Please sign in again.')
      }
      request.log.warn({ err: failure }, 'GitHub did not answer the code exchange')
      return unanswered('we finished your sign-in')
    }
    const octokit = github.asUser(token)
    let user: SignedInUser
    try {
      const { data } = await octokit.request('GET /user')
      user = { id: Number(data.id), login: data.login }
    } catch (failure) {
      githubStatus(failure)
      return unanswered('we asked who you are')
    }
    /** After a setup check, a user already signed in here stays signed in as they were. */
    const signIn = async (keepSameUser: boolean): Promise<void> => {
      if (keepSameUser && viewerOf(request)?.id === user.id) return
      // A new session id at sign-in: a session fixed before sign-in is worth nothing after it.
      await request.session.regenerate()
      request.session.set('user', user)
      request.session.set('signedInAt', Date.now())
      // The first sign-in freezes what the user enabled (later ones add what the vendor recorded since).
      await app.db.transaction().execute(async (trx) => {
        const frozen = await freezeUser(trx, user.id)
        await appendAudit(trx, { actor: { kind: 'user', githubId: user.id, login: user.login }, action: 'sign_in', outcome: 'ok', requestId: request.id, ...(frozen > 0 ? { detail: { beforeFrozen: frozen } } : {}) })
      })
    }
    if (pending.setup === undefined) {
      await signIn(false)
      return reply.redirect(staff.has(user.login.toLowerCase()) ? '/staff' : '/migrate')
    }
    // Verified before anyone is signed in: a check that fails leaves the session as it was.
    const jobs: SetupJobs = { addRepos: (trx, job) => app.queue.send(trx, 'add-repos', job), coverage: (trx, job, options) => app.queue.send(trx, 'coverage', job, options) }
    const result = await verifySetup(app.db, github, octokit, user, pending.setup, jobs, request.id, app.refusalsOf(request))
    if (result.kind === 'rejected') throw new HttpError(result.status, result.reason)
    // Nothing recorded, nothing spent: "Look again" on the migration page finds the installation as the App.
    if (result.kind === 'unanswered') return unanswered('we checked your installation with GitHub', '/migrate', 'Your migration')
    app.queue.wake()
    await signIn(true)
    return reply.redirect(`/migrate#owner-${result.ownerLogin}`)
  })

  app.post('/auth/logout', async (request, reply) => {
    const user = viewerOf(request)
    await request.session.destroy()
    if (user) await appendAudit(app.db, { actor: { kind: 'user', githubId: user.id, login: user.login }, action: 'sign_out', outcome: 'ok', requestId: request.id })
    return reply.redirect('/')
  })
}
