import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import type { SimState, User } from '../state.js'
import { fields, text, withQuery, type Fields } from './form.js'
import { errorPage, formExpired, page } from './render.js'
import { csrfToken, csrfValid, signedInUser } from './session.js'

// GET/POST /login/oauth/authorize: the signed-in user lets the GitHub App act for them, and
// the browser goes back to the app's callback with a one-time code (or access_denied). As on
// GitHub, only the first authorization asks: once the user has authorized the app, the GET
// goes straight back with a code, so a returning user's sign-in shows no GitHub page.

const CODE_LIFETIME_MS = 10 * 60_000

interface AuthorizeRequest {
  clientId: string
  redirectUri: string
  state?: string
  codeChallenge?: string
  scope?: string
}

type Checked = { request: AuthorizeRequest } | { status: number; title: string; message: string }

/**
 * GitHub's rule: same scheme, host and port as the callback URL, and a path at or below its
 * path. Without a callback URL, the world allows any URL on the setup URL's host.
 */
export function redirectAllowed(app: SimState['app'], redirectUri: string): boolean {
  let target: URL
  try {
    target = new URL(redirectUri)
  } catch {
    return false
  }
  if (app.callback_url !== undefined) {
    const callback = new URL(app.callback_url)
    const base = callback.pathname.replace(/\/?$/, '/')
    return target.origin === callback.origin && (target.pathname === callback.pathname || target.pathname.startsWith(base))
  }
  return app.setup_url !== undefined && target.origin === new URL(app.setup_url).origin
}

function check(state: SimState, params: Fields): Checked {
  const clientId = text(params, 'client_id')
  if (clientId !== state.app.client_id) {
    return { status: 404, title: 'Unknown application', message: `No application has the client_id "${clientId ?? ''}".` }
  }
  const redirectUri = text(params, 'redirect_uri') ?? state.app.callback_url
  if (redirectUri === undefined || !redirectAllowed(state.app, redirectUri)) {
    return {
      status: 400,
      title: 'Redirect URI mismatch',
      message: `The redirect_uri "${redirectUri ?? ''}" is not associated with this application.`,
    }
  }
  const codeChallenge = text(params, 'code_challenge')
  if (codeChallenge !== undefined) {
    if (text(params, 'code_challenge_method') !== 'S256') {
      return { status: 400, title: 'Unsupported code challenge method', message: 'code_challenge_method must be S256.' }
    }
    if (!/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) {
      return { status: 400, title: 'Invalid code challenge', message: 'code_challenge must be a base64url SHA-256 digest (43 characters).' }
    }
  }
  return { request: { clientId, redirectUri, state: text(params, 'state'), codeChallenge, scope: text(params, 'scope') } }
}

function authorizeUrl(request: AuthorizeRequest): string {
  const params = new URLSearchParams({ client_id: request.clientId, redirect_uri: request.redirectUri })
  if (request.state !== undefined) params.set('state', request.state)
  if (request.codeChallenge !== undefined) {
    params.set('code_challenge', request.codeChallenge)
    params.set('code_challenge_method', 'S256')
  }
  if (request.scope !== undefined) params.set('scope', request.scope)
  return `/login/oauth/authorize?${params.toString()}`
}

/** The callback URL with a one-time code for the user, and the state. */
function codeRedirect(state: SimState, auth: AuthorizeRequest, user: User): string {
  const code = randomBytes(10).toString('hex')
  state.codes.set(code, {
    clientId: auth.clientId,
    userId: user.id,
    redirectUri: auth.redirectUri,
    codeChallenge: auth.codeChallenge,
    expiresAt: new Date(Date.now() + CODE_LIFETIME_MS),
  })
  return withQuery(auth.redirectUri, { code, state: auth.state })
}

export const authorizeRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  app.get('/login/oauth/authorize', async (request, reply) => {
    const viewer = signedInUser(request, state)
    const checked = check(state, fields(request.query))
    if (!('request' in checked)) return errorPage(reply, checked.status, checked.title, checked.message, viewer)
    if (viewer !== undefined && state.hasAuthorized(viewer.id, checked.request.clientId)) {
      return reply.redirect(codeRedirect(state, checked.request, viewer), 302)
    }
    return page(reply, 'authorize.eta', {
      title: `Authorize ${state.app.name ?? state.app.slug}`,
      viewer,
      app: state.app,
      auth: checked.request,
      here: authorizeUrl(checked.request),
      users: [...state.users.values()],
      csrf: csrfToken(request, reply),
    })
  })

  app.post('/login/oauth/authorize', async (request, reply) => {
    const body = fields(request.body)
    const viewer = signedInUser(request, state)
    if (!csrfValid(request, text(body, '_csrf'))) return formExpired(reply, viewer)
    const checked = check(state, body)
    if (!('request' in checked)) return errorPage(reply, checked.status, checked.title, checked.message, viewer)
    const auth = checked.request
    // Signed out in another tab since the page was shown: show the page again, with the picker.
    if (viewer === undefined) return reply.redirect(authorizeUrl(auth), 303)
    if (text(body, 'decision') !== 'authorize') {
      return reply.redirect(
        withQuery(auth.redirectUri, {
          error: 'access_denied',
          error_description: 'The user has denied your application access.',
          error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied',
          state: auth.state,
        }),
        302,
      )
    }
    state.authorize(viewer.id, auth.clientId)
    return reply.redirect(codeRedirect(state, auth, viewer), 302)
  })
}
