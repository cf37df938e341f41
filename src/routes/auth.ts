import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { FastifyReply } from 'fastify'
import type { GitHubClients } from '../github/clients.js'
import { authorizationUrl, createPkce, exchangeCode, OAuthExchangeError } from '../github/oauth.js'
import { appendAudit } from '../migration/audit.js'
import { verifySetup, type PendingSetup } from '../migration/setup.js'
import { HttpError } from '../plugins/error-handler.js'

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
    /**
     * The authorization under way: its state and PKCE verifier, when it started, and, when it
     * was started to verify an installation, what GitHub's setup redirect claimed.
     */
    oauth?: { state: string; verifier: string; startedAt: number; setup?: PendingSetup }
  }
}

export interface AuthRoutesOptions {
  github: GitHubClients
  publicUrl: string
}

/** A sign-in not finished within this time has to start again. */
const SIGN_IN_WINDOW_MS = 10 * 60_000

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
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
  request.session.set('oauth', { state, verifier: pkce.verifier, startedAt: Date.now(), ...(setup === undefined ? {} : { setup }) })
  const { webUrl, clientId } = github.config
  return reply.redirect(authorizationUrl({ webUrl, clientId, redirectUri: `${publicUrl}/auth/callback`, state, codeChallenge: pkce.challenge }))
}

export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (app, { github, publicUrl }) => {
  const redirectUri = `${publicUrl}/auth/callback`
  const { webUrl, clientId, clientSecret } = github.config

  app.get('/auth/login', { config: { rateLimit: {} } }, async (request, reply) => authorizeOnGitHub(request, reply, github, publicUrl))

  app.get<{ Querystring: { code?: string; state?: string; error?: string } }>('/auth/callback', { config: { rateLimit: {} } }, async (request, reply) => {
    const pending = request.session.get('oauth')
    // One use: whatever happens next, this state is spent.
    request.session.set('oauth', undefined)
    const { code, state, error } = request.query
    if (error === 'access_denied') {
      return reply.code(400).view('signed-out.eta', { title: 'Sign-in cancelled', message: 'You cancelled the sign-in on GitHub. Nothing was changed.' })
    }
    if (pending === undefined || state === undefined || !sameSecret(state, pending.state) || Date.now() - pending.startedAt > SIGN_IN_WINDOW_MS) {
      throw new HttpError(400, 'This sign-in link has expired or was already used, or was started in another browser. Please sign in again.')
    }
    if (code === undefined || code === '') throw new HttpError(400, 'GitHub sent no authorization code. Please sign in again.')
    let token: string
    try {
      token = (await exchangeCode({ webUrl, clientId, clientSecret, code, redirectUri, codeVerifier: pending.verifier })).token
    } catch (failure) {
      if (failure instanceof OAuthExchangeError) {
        request.log.info({ error: failure.error }, 'GitHub refused the sign-in code')
        throw new HttpError(400, 'GitHub did not accept this sign-in (the code may have expired). Please sign in again.')
      }
      throw failure
    }
    const octokit = github.asUser(token)
    const { data } = await octokit.request('GET /user')
    const user = { id: Number(data.id), login: data.login }
    /** After a setup check, a user already signed in here stays signed in as they were. */
    const signIn = async (keepSameUser: boolean): Promise<void> => {
      if (keepSameUser && viewerOf(request)?.id === user.id) return
      // A new session id at sign-in: a session fixed before sign-in is worth nothing after it.
      await request.session.regenerate()
      request.session.set('user', user)
      request.session.set('signedInAt', Date.now())
      await appendAudit(app.db, { actor: { kind: 'user', githubId: user.id, login: user.login }, action: 'sign_in', outcome: 'ok', requestId: request.id })
    }
    if (pending.setup === undefined) {
      await signIn(false)
      return reply.redirect('/migrate')
    }
    // Verified before anyone is signed in: a check that fails leaves the session as it was.
    const result = await verifySetup(app.db, github, octokit, user, pending.setup, (trx, job) => app.queue.send(trx, 'add-repos', job), request.id)
    if (result.kind === 'rejected') throw new HttpError(result.status, result.reason)
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
