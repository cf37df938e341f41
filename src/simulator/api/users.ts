import type { FastifyPluginAsync } from 'fastify'
import { paginate } from '../pagination.js'
import { JSON_TYPE, organizationSimple, privateUser, publicUser, repositoriesJson, simpleUser } from '../serialize.js'
import { asUser, userRepos, type RepoListOptions } from './access.js'
import { callerOf, originOf } from './context.js'
import { notFound, validationFailed } from './errors.js'
import { grantedScopes } from './scopes.js'
import { markPartialResults, requireSso, ssoHiddenOrgs } from './sso.js'

// The signed-in user: GET /user, /user/repos, /user/orgs, /user/memberships/orgs/{org}.

type Affiliation = 'owner' | 'collaborator' | 'organization_member'
const AFFILIATIONS: readonly Affiliation[] = ['owner', 'collaborator', 'organization_member']

/** GitHub's /user/repos parameters; `type` is the older spelling of affiliation + visibility. */
function listOptions(query: Record<string, string | undefined>): RepoListOptions {
  const { type, visibility, affiliation, sort, direction } = query
  if (type !== undefined && (visibility !== undefined || affiliation !== undefined)) {
    throw validationFailed('If you specify visibility or affiliation, you cannot specify type.')
  }
  const options: RepoListOptions = {
    affiliation: new Set(AFFILIATIONS),
    visibility: visibility === 'public' || visibility === 'private' ? visibility : 'all',
    sort: sort === 'created' || sort === 'updated' || sort === 'pushed' ? sort : 'full_name',
    direction: 'asc',
  }
  if (affiliation !== undefined) {
    const wanted = affiliation.split(',').map((a) => a.trim()) as Affiliation[]
    options.affiliation = new Set(AFFILIATIONS.filter((a) => wanted.includes(a)))
  }
  if (type === 'owner') options.affiliation = new Set(['owner'])
  if (type === 'member') options.affiliation = new Set(['collaborator', 'organization_member'])
  if (type === 'public' || type === 'private') options.visibility = type
  const defaultDirection = options.sort === 'full_name' ? 'asc' : 'desc'
  options.direction = direction === 'asc' || direction === 'desc' ? direction : defaultDirection
  return options
}

export const userRoutes: FastifyPluginAsync = async (app) => {
  const { state } = app.sim

  app.get('/user', async (request) => {
    const auth = asUser(callerOf(request))
    if (auth.kind === 'legacy' && !grantedScopes(auth.scopes).has('user')) return publicUser(originOf(request), state, auth.user)
    return privateUser(originOf(request), state, auth.user)
  })

  app.get('/user/repos', async (request, reply) => {
    const auth = asUser(callerOf(request))
    const origin = originOf(request)
    const list = userRepos(state, auth, listOptions(request.query as Record<string, string | undefined>))
    markPartialResults(reply, ssoHiddenOrgs(state, auth))
    const page = paginate(request, reply, origin.web, list)
    return reply.type(JSON_TYPE).send(repositoriesJson(origin, state, page))
  })

  app.get('/user/orgs', async (request, reply) => {
    const auth = asUser(callerOf(request))
    const origin = originOf(request)
    // A GitHub App's user token reaches only organizations the app is installed on; a legacy
    // token none that SAML SSO keeps it out of.
    const hidden = ssoHiddenOrgs(state, auth)
    markPartialResults(reply, hidden)
    const orgs = state
      .orgsOf(auth.user.id)
      .filter((org) => (auth.kind === 'legacy' ? !hidden.has(org.id) : isInstalled(org.id)))
      .sort((a, b) => a.id - b.id)
    return paginate(request, reply, origin.web, orgs).map((org) => organizationSimple(origin, org))
  })

  // The user's own membership, with their role: how a client learns who may install on an org.
  app.get<{ Params: { org: string } }>('/user/memberships/orgs/:org', async (request) => {
    const auth = asUser(callerOf(request))
    const origin = originOf(request)
    const org = state.accountByLogin(request.params.org)
    const role = org?.type === 'Organization' ? state.orgRole(auth.user.id, org.id) : undefined
    if (org?.type !== 'Organization' || role === undefined || (auth.kind !== 'legacy' && !isInstalled(org.id))) throw notFound()
    requireSso(request, state, auth, org.id)
    return {
      url: `${origin.api}/orgs/${org.login}/memberships/${auth.user.login}`,
      state: 'active',
      role,
      organization_url: `${origin.api}/orgs/${org.login}`,
      organization: organizationSimple(origin, org),
      user: simpleUser(origin, auth.user),
      permissions: { can_create_repository: role === 'admin' || org.defaultPermission !== 'none' },
    }
  })

  function isInstalled(accountId: number): boolean {
    const installation = state.installationOn(accountId)
    return installation !== undefined && installation.suspendedAt === null
  }
}
