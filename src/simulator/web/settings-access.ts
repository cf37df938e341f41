import type { FastifyReply } from 'fastify'
import type { Installation, Org, SimState, User } from '../state.js'
import { errorPage } from './render.js'

// Who may open an account's settings pages: the user for their own account, an org's owners
// for the org. Everyone else gets GitHub's plain 404, which does not tell a stranger whether
// the org or the installation exists; a signed-out visitor is asked to sign in first.

export function signInFirst(reply: FastifyReply, returnTo: string): FastifyReply {
  return reply.redirect(`/login?${new URLSearchParams({ return_to: returnTo }).toString()}`, 303)
}

export function settingsNotFound(reply: FastifyReply, viewer: User): FastifyReply {
  return errorPage(reply, 404, 'Not found', 'This page does not exist, or you are not allowed to see it.', viewer)
}

/** The organization with this login when the viewer is one of its owners. */
export function ownedOrg(state: SimState, viewer: User, login: string): Org | undefined {
  const account = state.accountByLogin(login)
  return account?.type === 'Organization' && state.isAccountOwner(viewer.id, account.id) ? account : undefined
}

/** An installation's settings page, where GitHub has it. */
export function settingsPath(state: SimState, installation: Installation): string {
  const account = state.accountById(installation.accountId)!
  return account.type === 'User'
    ? `/settings/installations/${installation.id}`
    : `/organizations/${encodeURIComponent(account.login)}/settings/installations/${installation.id}`
}
