import { Ajv } from 'ajv'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { approveRequest } from './install-events.js'
import type { Account, Hook, Installation, Repo, SimState, User } from './state.js'

// Test controls under /_sim/, JSON in and JSON out: what tests and people trying the demo use
// to look inside the simulated GitHub and to make things happen that a migration must survive
// (renames, revoked tokens, outages, approvals by an admin who never visits the service).
// Token values never appear in any answer.

class Problem {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

function problem(reply: FastifyReply, { status, message }: Problem): FastifyReply {
  return reply.code(status).send({ message })
}

const notFound = (message: string): Problem => new Problem(404, message)

/** The optional `{"sender": "login"}` body of the installation controls; no body is fine. */
function namedSender(body: unknown): string | undefined | Problem {
  if (body === undefined || body === null) return undefined
  const sender = (body as { sender?: unknown }).sender
  if (typeof body !== 'object' || Object.keys(body).some((k) => k !== 'sender') || (sender !== undefined && typeof sender !== 'string')) {
    return new Problem(400, 'The body may only be {"sender": "<login>"}.')
  }
  return sender as string | undefined
}

const positive = { type: 'integer', minimum: 1 }

const schemas = {
  faults: {
    type: 'object',
    additionalProperties: false,
    properties: {
      latencyMs: { type: 'integer', minimum: 0, maximum: 60_000 },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['pattern', 'status', 'rate'],
          properties: {
            method: { type: 'string', pattern: '^([A-Za-z]+|\\*)?$' },
            pattern: { type: 'string', minLength: 1 },
            status: { type: 'integer', minimum: 400, maximum: 599 },
            rate: { type: 'number', minimum: 0, maximum: 1 },
            actor: { type: 'string', minLength: 1 },
            lost: { type: 'boolean' },
            retryAfter: { type: 'integer', minimum: 0, maximum: 3600 },
          },
        },
      },
      installationTokenLag: { type: 'boolean' },
    },
  },
  limits: {
    type: 'object',
    additionalProperties: false,
    properties: {
      hourlyQuota: { type: 'integer', minimum: 0 },
      concurrentPerToken: { type: 'integer', minimum: 1 },
      writesPerMinute: { type: 'integer', minimum: 1 },
    },
  },
  settings: {
    type: 'object',
    additionalProperties: false,
    properties: { legacyTokensMayAddRepos: { type: 'boolean' } },
  },
  rename: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' } } },
  // GitHub's login rule: letters, digits and single hyphens inside, at most 39 characters.
  accountRename: {
    type: 'object',
    additionalProperties: false,
    required: ['login'],
    properties: { login: { type: 'string', pattern: '^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$' } },
  },
  ssoAuthorize: { type: 'object', additionalProperties: false, required: ['org'], properties: { org: { type: 'string', minLength: 1 } } },
  transfer: { type: 'object', additionalProperties: false, required: ['owner'], properties: { owner: { type: 'string' } } },
  approve: { type: 'object', additionalProperties: false, required: ['approver'], properties: { approver: { type: 'string' } } },
  hook: {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: {
      repo: { anyOf: [positive, { type: 'string', pattern: '^[^/]+/[^/]+$' }] },
      org: { type: 'string' },
      url: { type: 'string', minLength: 1 },
      events: { type: 'array', items: { type: 'string' } },
      active: { type: 'boolean' },
      createdBy: { type: 'string', minLength: 1 },
    },
  },
  id: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]*$' } } },
} as const

function hookJson(hook: Hook) {
  return { id: hook.id, url: hook.url, events: hook.events, active: hook.active, createdBy: hook.createdBy }
}

function installationJson(state: SimState, installation: Installation) {
  return {
    id: installation.id,
    account: state.accountById(installation.accountId)!.login,
    repositorySelection: installation.repositorySelection,
    repositories: state.installationRepos(installation).map((repo) => ({ id: repo.id, fullName: state.fullName(repo) })),
    permissions: installation.permissions,
    suspendedAt: installation.suspendedAt,
    suspendedBy: installation.suspendedBy === null ? null : state.accountById(installation.suspendedBy)!.login,
  }
}

/** Everything a test or a curious person may want to see, with tokens reduced to counts. */
export function stateDump(state: SimState, pendingDeliveries: number) {
  const login = (id: number): string => state.accountById(id)!.login
  const tokens = { legacy: 0, user: 0, installation: 0 }
  for (const token of state.tokens.values()) tokens[token.kind]++
  return {
    app: {
      id: state.app.id,
      slug: state.app.slug,
      name: state.app.name ?? null,
      clientId: state.app.client_id,
      permissions: state.app.permissions,
      callbackUrl: state.app.callback_url ?? null,
      setupUrl: state.app.setup_url ?? null,
      webhookUrl: state.app.webhook_url ?? null,
    },
    users: [...state.users.values()].map((u) => ({
      id: u.id,
      login: u.login,
      hasLegacyToken: u.legacyToken !== null,
      legacyScopes: u.legacyScopes,
      legacyTokenSsoOrgs: [...u.legacyTokenSsoOrgs].map(login),
    })),
    orgs: [...state.orgs.values()].map((o) => ({
      id: o.id,
      login: o.login,
      samlSso: o.samlSso,
      members: Object.fromEntries([...o.members].map(([id, role]) => [login(id), role])),
      hooks: [...o.hooks.values()].map(hookJson),
    })),
    repos: [...state.repos.values()].map((r) => ({
      id: r.id,
      fullName: r.deleted ? null : state.fullName(r),
      name: r.name,
      owner: login(r.ownerId),
      private: r.private,
      archived: r.archived,
      deleted: r.deleted,
      formerNames: r.formerNames,
      hooks: [...r.hooks.values()].map(hookJson),
    })),
    installations: [...state.installations.values()].map((i) => installationJson(state, i)),
    requests: [...state.requests.values()].map((r) => ({
      id: r.id,
      account: login(r.accountId),
      requester: login(r.requesterId),
      repositorySelection: r.repositorySelection,
      repositories: r.repositoryIds,
      createdAt: r.createdAt,
    })),
    tokens,
    legacyTokensMayAddRepos: state.legacyTokensMayAddRepos,
    faults: state.faults,
    limits: state.limits,
    deliveries: state.deliveries,
    pendingDeliveries,
    apiLog: state.apiLog,
    breaches: state.breaches,
  }
}

export const controlRoutes: FastifyPluginAsync = async (app) => {
  const { state, keys, delivery } = app.sim
  // Unknown fields are refused rather than dropped: a typo in a fault must not pass silently.
  const ajv = new Ajv({ allErrors: false, strict: false })
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema))

  const repoById = (raw: string): Repo | Problem => state.liveRepo(Number(raw)) ?? notFound(`No repository has the id ${raw}.`)
  const userByLogin = (login: string): User | Problem => state.userByLogin(login) ?? notFound(`No user has the login "${login}".`)
  const installationById = (raw: string): Installation | Problem => state.installations.get(Number(raw)) ?? notFound(`No installation has the id ${raw}.`)
  const isProblem = (value: unknown): value is Problem => value instanceof Problem

  /** Who acts when a test does not say: the user account itself, or the org's first owner. */
  const senderFor = (installation: Installation, body: unknown): User | Problem => {
    const named = namedSender(body)
    if (isProblem(named)) return named
    if (named !== undefined) return userByLogin(named)
    const account = state.accountById(installation.accountId)!
    if (account.type === 'User') return account
    const [ownerId] = [...account.members].find(([, role]) => role === 'admin') ?? []
    return ownerId === undefined ? new Problem(422, `${account.login} has no owner to act; name a sender.`) : state.users.get(ownerId)!
  }

  app.get('/state', async () => stateDump(state, delivery.pending()))

  app.post('/deliveries/flush', async () => {
    await delivery.settle()
    return { deliveries: state.deliveries }
  })

  app.get('/app-key', async (_request, reply) => {
    if (!keys.generated) return problem(reply, notFound('The world names a private key file; the simulator does not hand out keys it did not make.'))
    return reply.type('application/x-pem-file').send(keys.privateKey)
  })

  type FaultsBody = Partial<Omit<SimState['faults'], 'errors'>> & { errors?: (Omit<SimState['faults']['errors'][number], 'method'> & { method?: string })[] }
  app.put<{ Body: FaultsBody }>('/faults', { schema: { body: schemas.faults } }, async (request) => {
    const { errors, ...rest } = request.body
    // No method: every method.
    state.faults = { ...state.faults, ...rest, errors: (errors ?? state.faults.errors).map((e) => ({ ...e, method: e.method ?? '*' })) }
    return state.faults
  })

  app.put<{ Body: Partial<SimState['limits']> }>('/limits', { schema: { body: schemas.limits } }, async (request) => {
    state.limits = { ...state.limits, ...request.body }
    return state.limits
  })

  app.put<{ Body: { legacyTokensMayAddRepos?: boolean } }>('/settings', { schema: { body: schemas.settings } }, async (request) => {
    state.legacyTokensMayAddRepos = request.body.legacyTokensMayAddRepos ?? state.legacyTokensMayAddRepos
    state.touch()
    return { legacyTokensMayAddRepos: state.legacyTokensMayAddRepos }
  })

  app.post<{ Params: { login: string } }>('/users/:login/revoke-legacy-token', async (request, reply) => {
    const user = userByLogin(request.params.login)
    if (isProblem(user)) return problem(reply, user)
    const hadToken = user.legacyToken !== null
    state.revokeLegacyToken(user)
    state.touch()
    return { login: user.login, hadToken }
  })

  app.post<{ Params: { login: string }; Body: { org: string } }>('/users/:login/sso-authorize', { schema: { body: schemas.ssoAuthorize } }, async (request, reply) => {
    const user = userByLogin(request.params.login)
    if (isProblem(user)) return problem(reply, user)
    const org = state.accountByLogin(request.body.org)
    if (org?.type !== 'Organization') return problem(reply, notFound(`No org has the login "${request.body.org}".`))
    if (!org.samlSso) return problem(reply, new Problem(422, `${org.login} does not enforce SAML single sign-on.`))
    state.authorizeSso(user, org.id)
    return { login: user.login, legacyTokenSsoOrgs: [...user.legacyTokenSsoOrgs].map((id) => state.accountById(id)!.login) }
  })

  app.post<{ Params: { login: string }; Body: { login: string } }>('/accounts/:login/rename', { schema: { body: schemas.accountRename } }, async (request, reply) => {
    const account = state.accountByLogin(request.params.login)
    if (account === undefined) return problem(reply, notFound(`No user or org has the login "${request.params.login}".`))
    const taken = state.accountByLogin(request.body.login)
    if (taken !== undefined && taken !== account) return problem(reply, new Problem(409, `The login "${request.body.login}" is already taken.`))
    const formerLogin = account.login
    state.renameAccount(account, request.body.login)
    return { id: account.id, login: account.login, formerLogin }
  })

  app.post<{ Params: { id: string }; Body: { name: string } }>('/repos/:id/rename', { schema: { params: schemas.id, body: schemas.rename } }, async (request, reply) => {
    const repo = repoById(request.params.id)
    if (isProblem(repo)) return problem(reply, repo)
    const owner = state.accountById(repo.ownerId)!
    const taken = state.repoByName(owner.login, request.body.name)
    if (taken !== undefined && taken !== repo) return problem(reply, new Problem(409, `${owner.login}/${request.body.name} already exists.`))
    state.renameRepo(repo, request.body.name)
    return { id: repo.id, fullName: state.fullName(repo), formerNames: repo.formerNames }
  })

  app.post<{ Params: { id: string }; Body: { owner: string } }>('/repos/:id/transfer', { schema: { params: schemas.id, body: schemas.transfer } }, async (request, reply) => {
    const repo = repoById(request.params.id)
    if (isProblem(repo)) return problem(reply, repo)
    const owner: Account | undefined = state.accountByLogin(request.body.owner)
    if (owner === undefined) return problem(reply, notFound(`No user or org has the login "${request.body.owner}".`))
    if (owner.id === repo.ownerId) return problem(reply, new Problem(422, `${state.fullName(repo)} already belongs to ${owner.login}.`))
    if (state.repoByName(owner.login, repo.name) !== undefined) return problem(reply, new Problem(409, `${owner.login}/${repo.name} already exists.`))
    state.transferRepo(repo, owner.id)
    return { id: repo.id, fullName: state.fullName(repo), formerNames: repo.formerNames }
  })

  app.delete<{ Params: { id: string } }>('/repos/:id', { schema: { params: schemas.id } }, async (request, reply) => {
    const repo = repoById(request.params.id)
    if (isProblem(repo)) return problem(reply, repo)
    const fullName = state.fullName(repo)
    state.deleteRepo(repo)
    return { id: repo.id, deleted: fullName }
  })

  app.post<{ Body: { repo?: number | string; org?: string; url: string; events?: string[]; active?: boolean; createdBy?: string } }>(
    '/hooks',
    { schema: { body: schemas.hook } },
    async (request, reply) => {
      const { repo: repoRef, org: orgLogin, ...fields } = request.body
      if ((repoRef === undefined) === (orgLogin === undefined)) return problem(reply, new Problem(422, 'Name either a repo (id or owner/name) or an org.'))
      let parent: { kind: 'repo' | 'org'; id: number; hooks: Map<number, Hook> }
      if (repoRef !== undefined) {
        const repo = typeof repoRef === 'number' ? state.liveRepo(repoRef) : state.repoByName(...(repoRef.split('/') as [string, string]))
        if (repo === undefined) return problem(reply, notFound(`No repository is ${repoRef}.`))
        parent = { kind: 'repo', id: repo.id, hooks: repo.hooks }
      } else {
        const org = state.accountByLogin(orgLogin!)
        if (org?.type !== 'Organization') return problem(reply, notFound(`No org has the login "${orgLogin}".`))
        parent = { kind: 'org', id: org.id, hooks: org.hooks }
      }
      const hook = state.addHook(parent, { url: fields.url, events: fields.events, active: fields.active, created_by: fields.createdBy })
      return reply.code(201).send(hookJson(hook))
    },
  )

  app.post<{ Params: { id: string }; Body: { approver: string } }>('/requests/:id/approve', { schema: { params: schemas.id, body: schemas.approve } }, async (request, reply) => {
    const pending = state.requests.get(Number(request.params.id))
    if (pending === undefined) return problem(reply, notFound(`No pending installation request has the id ${request.params.id}.`))
    const approver = userByLogin(request.body.approver)
    if (isProblem(approver)) return problem(reply, approver)
    const account = state.accountById(pending.accountId)!
    if (!state.isAccountOwner(approver.id, account.id)) return problem(reply, new Problem(403, `${approver.login} is not an owner of ${account.login}.`))
    const { installation, action } = approveRequest(state, pending, approver)
    return { action, installation: installationJson(state, installation) }
  })

  app.delete<{ Params: { id: string } }>('/requests/:id', { schema: { params: schemas.id } }, async (request, reply) => {
    if (!state.requests.delete(Number(request.params.id))) return problem(reply, notFound(`No pending installation request has the id ${request.params.id}.`))
    return { denied: Number(request.params.id) }
  })

  app.delete<{ Params: { id: string } }>('/installations/:id', { schema: { params: schemas.id } }, async (request, reply) => {
    const installation = installationById(request.params.id)
    if (isProblem(installation)) return problem(reply, installation)
    const sender = senderFor(installation, request.body)
    if (isProblem(sender)) return problem(reply, sender)
    state.uninstall(installation)
    state.onEvent({ name: 'installation', action: 'deleted', installation, sender })
    return { deleted: installation.id }
  })

  for (const action of ['suspend', 'unsuspend'] as const) {
    app.post<{ Params: { id: string } }>(`/installations/:id/${action}`, { schema: { params: schemas.id } }, async (request, reply) => {
      const installation = installationById(request.params.id)
      if (isProblem(installation)) return problem(reply, installation)
      const sender = senderFor(installation, request.body)
      if (isProblem(sender)) return problem(reply, sender)
      const suspended = installation.suspendedAt !== null
      if (suspended === (action === 'suspend')) {
        return problem(reply, new Problem(409, `Installation ${installation.id} is ${suspended ? 'already' : 'not'} suspended.`))
      }
      installation.suspendedAt = action === 'suspend' ? new Date() : null
      installation.suspendedBy = action === 'suspend' ? sender.id : null
      installation.updatedAt = new Date()
      state.touch()
      state.onEvent({ name: 'installation', action, installation, sender })
      return installationJson(state, installation)
    })
  }
}
