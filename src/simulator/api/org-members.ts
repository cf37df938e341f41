import type { FastifyPluginAsync } from 'fastify'
import { paginate } from '../pagination.js'
import { simpleUser } from '../serialize.js'
import type { OrgRole, User } from '../state.js'
import { asUser } from './access.js'
import { callerOf, originOf } from './context.js'
import { notFound } from './errors.js'
import { requireSso } from './sso.js'

// GET /orgs/{org}/members: who belongs to an organization, optionally only its owners or only
// its plain members. `filter` (2fa_disabled, 2fa_insecure) is ignored: the world knows nothing
// of two-factor authentication.

export const orgMemberRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  app.get<{ Params: { org: string }; Querystring: { role?: string } }>('/orgs/:org/members', async (request, reply) => {
    const auth = asUser(callerOf(request))
    const origin = originOf(request)
    const org = state.accountByLogin(request.params.org)
    if (org?.type !== 'Organization') throw notFound()
    requireSso(request, state, auth, org.id)
    // GitHub sends a non-member to the public members (302 to /public_members); the world
    // tells public from concealed memberships nowhere, so a non-member sees none of them: 404.
    if (state.orgRole(auth.user.id, org.id) === undefined) throw notFound()
    // A GitHub App's user token reaches only organizations the app is installed on, as for GET /user/orgs.
    if (auth.kind === 'user') {
      const installation = state.installationOn(org.id)
      if (installation === undefined || installation.suspendedAt !== null) throw notFound()
    }
    const { role } = request.query
    // Unknown roles fall back to GitHub's default, all, as the other list filters do.
    const wanted: OrgRole | undefined = role === 'admin' || role === 'member' ? role : undefined
    const members: User[] = []
    for (const [userId, memberRole] of org.members) {
      if (wanted === undefined || memberRole === wanted) members.push(state.users.get(userId)!)
    }
    members.sort((a, b) => a.id - b.id)
    return paginate(request, reply, origin.web, members).map((user) => simpleUser(origin, user))
  })
}
