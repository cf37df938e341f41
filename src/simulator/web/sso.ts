import type { FastifyPluginAsync } from 'fastify'
import { errorPage, page } from './render.js'
import { signedInUser } from './session.js'

// The page behind the X-GitHub-SSO url: where GitHub has a user sign in with the org's identity
// provider and authorize their OAuth token for the org. The simulated identity provider always
// says yes, so visiting the url authorizes the token at once, as a demo wants; the url is good
// for one use within the hour, like GitHub's.

export const ssoRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  app.get<{ Params: { org: string }; Querystring: { authorization_request?: string } }>('/orgs/:org/sso', async (request, reply) => {
    const viewer = signedInUser(request, state)
    const key = request.query.authorization_request ?? ''
    const pending = state.ssoRequests.get(key)
    const org = state.accountByLogin(request.params.org)
    if (pending === undefined || pending.expiresAt <= new Date() || org?.id !== pending.orgId) {
      return errorPage(reply, 404, 'Authorization request not found', 'This single sign-on link is unknown, used or expired. Make the request with the token again to get a new one.', viewer)
    }
    state.ssoRequests.delete(key)
    const user = state.users.get(pending.userId)!
    state.authorizeSso(user, org.id)
    return page(reply, 'sso.eta', { title: `${org.login} single sign-on`, viewer, org: org.login, user: user.login, appClientId: state.legacyClientId })
  })
}
