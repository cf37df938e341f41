import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SimState, User } from '../state.js'

// Who is signed in on the simulated github.com, and the CSRF token its forms carry. Anyone may
// sign in as any world user, so the cookie is a plain user id; the names are unusual because
// browsers share cookies between the ports of one host, where the service under test also
// keeps its own.

const USER_COOKIE = 'gh_sim_user'
const CSRF_COOKIE = 'gh_sim_csrf'
const COOKIE = { path: '/', httpOnly: true, sameSite: 'lax' } as const

export function signedInUser(request: FastifyRequest, state: SimState): User | undefined {
  const id = Number(request.cookies[USER_COOKIE])
  return Number.isInteger(id) ? state.users.get(id) : undefined
}

export function signIn(reply: FastifyReply, user: User): void {
  reply.setCookie(USER_COOKIE, String(user.id), COOKIE)
}

export function signOut(reply: FastifyReply): void {
  reply.clearCookie(USER_COOKIE, COOKIE)
}

/** The token for the page's forms: a random value, also kept in a cookie (double submit). */
export function csrfToken(request: FastifyRequest, reply: FastifyReply): string {
  const existing = request.cookies[CSRF_COOKIE]
  if (existing !== undefined && existing !== '') return existing
  const token = randomBytes(16).toString('hex')
  reply.setCookie(CSRF_COOKIE, token, COOKIE)
  return token
}

/** Whether a form's `_csrf` field matches the cookie: the form was made by this site. */
export function csrfValid(request: FastifyRequest, sent: string | undefined): boolean {
  const expected = request.cookies[CSRF_COOKIE]
  if (expected === undefined || expected === '' || sent === undefined) return false
  const a = Buffer.from(expected)
  const b = Buffer.from(sent)
  return a.length === b.length && timingSafeEqual(a, b)
}
