import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import type { StartedSimulator } from './simulator.js'

export function sessionCookieOf(res: LightMyRequestResponse): string | undefined {
  return res.cookies.find((c) => c.name === SESSION_COOKIE)?.value
}

/** The code GitHub's authorization page hands back for `userId`, answering the authorize URL given. */
export function codeFor(sim: StartedSimulator, authorize: URL, userId: number): string {
  const code = `code-${Math.random().toString(36).slice(2)}`
  sim.state.codes.set(code, {
    clientId: authorize.searchParams.get('client_id')!,
    userId,
    redirectUri: authorize.searchParams.get('redirect_uri')!,
    codeChallenge: authorize.searchParams.get('code_challenge')!,
    expiresAt: new Date(Date.now() + 60_000),
  })
  return code
}

/** /auth/login, then GitHub's side as if the user approved: the code GitHub would send back. */
export async function startSignIn(app: FastifyInstance, sim: StartedSimulator, userId = 1): Promise<{ cookie: string; state: string; code: string }> {
  const res = await app.inject({ url: '/auth/login' })
  const location = new URL(res.headers.location as string)
  return { cookie: sessionCookieOf(res)!, state: location.searchParams.get('state')!, code: codeFor(sim, location, userId) }
}

/** A whole sign-in; returns the signed-in session's cookie. */
export async function signIn(app: FastifyInstance, sim: StartedSimulator, userId = 1): Promise<string> {
  const { cookie, state, code } = await startSignIn(app, sim, userId)
  const back = await app.inject({ url: `/auth/callback?code=${code}&state=${state}`, cookies: { [SESSION_COOKIE]: cookie } })
  return sessionCookieOf(back)!
}
