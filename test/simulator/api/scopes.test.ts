import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../../src/project-root.js'
import { SCOPE_RULES } from '../../../src/simulator/api/scopes.js'
import { demoWorld, startSimulator, type StartedSimulator } from '../../helpers/simulator.js'

// Every row of the scope table (src/simulator/api/scopes.ts, the README's table), tried with a
// legacy token holding one accepted scope and with one holding none of them: the status, GitHub's
// message, X-Accepted-OAuth-Scopes and X-OAuth-Scopes. The expected values are written out
// here, not read from the table, so a wrong row fails.

interface Case {
  path: string
  /** Scopes of the token that gets through, and its status. */
  with: string[]
  ok: number
  /** Scopes of the token without an accepted one, and what it gets. */
  without: string[]
  refused: number
  message?: string
  accepted: string
}

const ORG_READ = 'admin:org, read:org, write:org'
const REPO_HOOK_READ = 'admin:repo_hook, read:repo_hook, repo, write:repo_hook'
const REPO_HOOK_DELETE = 'admin:repo_hook, repo'

const CASES: Record<string, Case> = {
  'GET /user': { path: '/user', with: [], ok: 200, without: ['gist'], refused: 200, accepted: '' },
  'GET /user/repos': { path: '/user/repos', with: ['repo'], ok: 200, without: ['public_repo'], refused: 200, accepted: '' },
  'GET /user/orgs': {
    path: '/user/orgs',
    with: ['user'],
    ok: 200,
    without: ['repo', 'admin:repo_hook', 'admin:org_hook'],
    refused: 403,
    message: 'You need at least read:org scope or user scope to list your organizations.',
    accepted: 'admin:org, read:org, user, write:org',
  },
  'GET /user/memberships/orgs/:org': {
    path: '/user/memberships/orgs/acme',
    with: ['write:org'],
    ok: 200,
    without: ['repo', 'user'],
    refused: 403,
    message: 'You do not have access to this organization membership.',
    accepted: ORG_READ,
  },
  'GET /repos/:owner/:repo': { path: '/repos/mona/site', with: ['repo'], ok: 200, without: ['public_repo'], refused: 404, message: 'Not Found', accepted: 'repo' },
  'GET /repositories/:repository_id': { path: '/repositories/1001', with: ['repo'], ok: 200, without: [], refused: 404, message: 'Not Found', accepted: 'repo' },
  'GET /orgs/:org/members': { path: '/orgs/acme/members', with: ['read:org'], ok: 200, without: ['repo', 'user'], refused: 404, message: 'Not Found', accepted: ORG_READ },
  'PUT /user/installations/:installation_id/repositories/:repository_id': {
    path: '/user/installations/7001/repositories/1002',
    with: ['repo'],
    ok: 204,
    without: ['public_repo', 'admin:repo_hook'],
    refused: 404,
    message: 'Not Found',
    accepted: 'repo',
  },
  'DELETE /user/installations/:installation_id/repositories/:repository_id': {
    path: '/user/installations/7001/repositories/1002',
    with: ['repo'],
    ok: 204,
    without: ['public_repo'],
    refused: 404,
    message: 'Not Found',
    accepted: 'repo',
  },
  'GET /repos/:owner/:repo/hooks': { path: '/repos/mona/dotfiles/hooks', with: ['read:repo_hook'], ok: 200, without: ['admin:org_hook'], refused: 404, message: 'Not Found', accepted: REPO_HOOK_READ },
  'GET /repositories/:repository_id/hooks': { path: '/repositories/1000/hooks', with: ['write:repo_hook'], ok: 200, without: ['public_repo'], refused: 404, message: 'Not Found', accepted: REPO_HOOK_READ },
  'GET /repos/:owner/:repo/hooks/:hook_id': { path: '/repos/mona/dotfiles/hooks/5000', with: ['repo'], ok: 200, without: ['admin:org'], refused: 404, message: 'Not Found', accepted: REPO_HOOK_READ },
  'GET /repositories/:repository_id/hooks/:hook_id': { path: '/repositories/1000/hooks/5000', with: ['admin:repo_hook'], ok: 200, without: [], refused: 404, message: 'Not Found', accepted: REPO_HOOK_READ },
  'DELETE /repos/:owner/:repo/hooks/:hook_id': { path: '/repos/mona/dotfiles/hooks/5000', with: ['admin:repo_hook'], ok: 204, without: ['write:repo_hook'], refused: 404, message: 'Not Found', accepted: REPO_HOOK_DELETE },
  'DELETE /repositories/:repository_id/hooks/:hook_id': { path: '/repositories/1002/hooks/5003', with: ['repo'], ok: 204, without: ['read:repo_hook', 'write:repo_hook'], refused: 404, message: 'Not Found', accepted: REPO_HOOK_DELETE },
  'GET /orgs/:org/hooks': { path: '/orgs/acme/hooks', with: ['admin:org_hook'], ok: 200, without: ['admin:org', 'repo'], refused: 404, message: 'Not Found', accepted: 'admin:org_hook' },
  'GET /orgs/:org/hooks/:hook_id': { path: '/orgs/acme/hooks/6000', with: ['admin:org_hook'], ok: 200, without: ['admin:repo_hook'], refused: 404, message: 'Not Found', accepted: 'admin:org_hook' },
  'DELETE /orgs/:org/hooks/:hook_id': { path: '/orgs/acme/hooks/6000', with: ['admin:org_hook'], ok: 204, without: ['write:org'], refused: 404, message: 'Not Found', accepted: 'admin:org_hook' },
}

/** A legacy token of mona's holding exactly `scopes`. */
function tokenWith(sim: StartedSimulator, scopes: string[]): string {
  const token = `gho_scopes_${scopes.join('_').replace(/:/g, '-')}_${sim.state.tokens.size}`
  sim.state.tokens.set(token, { kind: 'legacy', userId: 1, scopes, clientId: sim.state.legacyClientId })
  return token
}

async function call(sim: StartedSimulator, method: string, path: string, token: string) {
  const response = await fetch(`${sim.apiUrl}${path}`, { method, headers: { authorization: `token ${token}` } })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : (JSON.parse(text) as { message?: string; documentation_url?: string }) }
}

t.test('every endpoint of the scope table has a case here', async (t) => {
  t.same(Object.keys(CASES).sort(), Object.keys(SCOPE_RULES).sort())
})

t.test("the README's scope table cites each row's reference and states each refusal", async (t) => {
  const readme = await readFile(path.join(projectRoot(), 'README.md'), 'utf8')
  const table = readme.slice(readme.indexOf('| endpoint | scopes accepted'), readme.indexOf('**SAML single sign-on.**'))
  for (const [route, rule] of Object.entries(SCOPE_RULES)) {
    t.ok(table.includes(`(${rule.reference})`), `${route}: ${rule.reference}`)
    if (rule.refusal !== undefined) t.ok(table.includes(`**${rule.refusal.status}** "${rule.refusal.message}`), `${route}: ${rule.refusal.status} ${rule.refusal.message}`)
  }
})

t.test('each row: with an accepted scope the endpoint answers; without, GitHub refuses as documented', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7001, account: 'mona', repository_selection: 'selected', repositories: [1000] }]
  const sim = await startSimulator(t, world)
  for (const [route, c] of Object.entries(CASES)) {
    const method = route.split(' ')[0]!
    // The refusal first: the accepted call of a DELETE removes what it names.
    const refused = await call(sim, method, c.path, tokenWith(sim, c.without))
    t.equal(refused.status, c.refused, `${route} without: status`)
    if (c.message !== undefined) t.equal(refused.body?.message, c.message, `${route} without: message`)
    t.equal(refused.headers.get('x-accepted-oauth-scopes'), c.accepted, `${route} without: X-Accepted-OAuth-Scopes`)
    t.equal(refused.headers.get('x-oauth-scopes'), c.without.join(', '), `${route} without: X-OAuth-Scopes`)
    const ok = await call(sim, method, c.path, tokenWith(sim, c.with))
    t.equal(ok.status, c.ok, `${route} with ${c.with.join(', ') || 'no scope'}: status`)
    t.equal(ok.headers.get('x-accepted-oauth-scopes'), c.accepted, `${route} with: X-Accepted-OAuth-Scopes`)
    t.equal(ok.headers.get('x-oauth-scopes'), c.with.join(', '), `${route} with: X-OAuth-Scopes`)
  }
})

t.test('what a scope changes inside an answer: private repositories need repo, the private profile user', async (t) => {
  const sim = await startSimulator(t)
  const names = async (scopes: string[]) => ((await call(sim, 'GET', '/user/repos?per_page=100', tokenWith(sim, scopes))).body as unknown as { full_name: string }[]).map((r) => r.full_name)
  t.same(await names(['public_repo', 'read:org']), ['mona/dotfiles', 'mona/new-name', 'widgets/core'], 'public repositories only')
  t.same(await names(['repo']), ['acme/api', 'acme/vault', 'acme/web', 'mona/dotfiles', 'mona/new-name', 'mona/site', 'widgets/core'])
  const pub = await call(sim, 'GET', '/repos/mona/dotfiles', tokenWith(sim, []))
  t.equal(pub.status, 200, 'a public repository answers a token without repo')
  t.equal(pub.headers.get('x-accepted-oauth-scopes'), 'repo')
  const profile = async (scopes: string[]) => (await call(sim, 'GET', '/user', tokenWith(sim, scopes))).body as { user_view_type?: string }
  t.equal((await profile(['read:user'])).user_view_type, 'public', 'read:user is not the user scope')
  t.equal((await profile(['user'])).user_view_type, 'private')
})

t.test('endpoints outside the table accept any scope and say so with an empty header; other credentials get none', async (t) => {
  const sim = await startSimulator(t)
  const limit = await call(sim, 'GET', '/rate_limit', tokenWith(sim, []))
  t.equal(limit.status, 200)
  t.equal(limit.headers.get('x-accepted-oauth-scopes'), '')
  const { token } = sim.state.issueUserToken(1)
  const user = await call(sim, 'GET', '/user/orgs', token)
  t.equal(user.status, 200, 'a ghu_ token has no scopes to check')
  t.equal(user.headers.get('x-accepted-oauth-scopes'), null)
  t.equal(user.headers.get('x-oauth-scopes'), null)
})
