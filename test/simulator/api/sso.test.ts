import t from 'tap'
import { validateWorld } from '../../../src/simulator/world.js'
import { appFor, demoWorld, startSimulator, type StartedSimulator } from '../../helpers/simulator.js'
import { withScopes } from '../../helpers/scoped-world.js'

// SAML single sign-on: acme enforces it; octo's legacy token is authorized for it, mona's is
// not. Every acme resource refuses mona's token with 403 and the X-GitHub-SSO url, the lists
// leave acme out and say so, and other credentials never notice.

const MONA = 'gho_legacy_mona_0001'
const OCTO = 'gho_legacy_octo_0003'
const MESSAGE = 'Resource protected by organization SAML enforcement. You must grant your OAuth token access to this organization.'

function ssoWorld() {
  const world = withScopes({ mona: ['read:org'], octo: ['read:org'], hubot: ['read:org'] })
  world.orgs!.find((o) => o.login === 'acme')!.saml_sso = true
  world.users.find((u) => u.login === 'octo')!.legacy_token_sso_orgs = ['acme']
  world.users.find((u) => u.login === 'hubot')!.legacy_token = 'gho_legacy_hubot_0002'
  world.installations = [{ id: 7002, account: 'acme', repository_selection: 'all' }]
  return world
}

async function call(sim: StartedSimulator, method: string, path: string, token: string) {
  const response = await fetch(`${sim.apiUrl}${path}`, { method, headers: { authorization: `token ${token}` }, redirect: 'manual' })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) }
}

async function control(sim: StartedSimulator, path: string, body: unknown) {
  const response = await fetch(`${sim.url}/_sim${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: (await response.json()) as any }
}

const ACME_RESOURCES: [string, string][] = [
  ['GET', '/repos/acme/api'],
  ['GET', '/repositories/1100'],
  ['GET', '/repos/acme/api/hooks'],
  ['GET', '/repositories/1100/hooks'],
  ['GET', '/repos/acme/api/hooks/5100'],
  ['DELETE', '/repos/acme/api/hooks/5100'],
  ['DELETE', '/repositories/1100/hooks/5100'],
  ['GET', '/orgs/acme/members'],
  ['GET', '/orgs/acme/hooks'],
  ['GET', '/orgs/acme/hooks/6000'],
  ['DELETE', '/orgs/acme/hooks/6000'],
  ['GET', '/user/memberships/orgs/acme'],
  ['PUT', '/user/installations/7002/repositories/1100'],
  ['DELETE', '/user/installations/7002/repositories/1100'],
]

t.test("every acme resource refuses an unauthorized legacy token with 403 and the X-GitHub-SSO url", async (t) => {
  const sim = await startSimulator(t, ssoWorld())
  const urls = new Set<string>()
  for (const [method, path] of ACME_RESOURCES) {
    const refused = await call(sim, method, path, MONA)
    t.equal(refused.status, 403, `${method} ${path}`)
    t.equal(refused.body.message, MESSAGE, `${method} ${path}: GitHub's message`)
    t.match(refused.body.documentation_url, /^https:\/\/docs\.github\.com\/.*authenticating-to-the-rest-api/)
    const header = refused.headers.get('x-github-sso') ?? ''
    const match = /^required; url=(\S+)$/.exec(header)
    t.ok(match, `${method} ${path}: X-GitHub-SSO required; url=…`)
    t.match(match?.[1], new RegExp(`^${sim.url}/orgs/acme/sso\\?authorization_request=[0-9a-f]{40}$`))
    urls.add(match?.[1] ?? '')
    t.equal(refused.headers.get('x-oauth-scopes'), 'repo, admin:repo_hook, admin:org_hook, read:org', 'scopes are still shown')
  }
  t.equal(urls.size, ACME_RESOURCES.length, 'each refusal names a fresh authorization request')
  t.equal((await call(sim, 'GET', '/repos/widgets/core', MONA)).status, 200, 'an org without SSO is not affected')
  t.equal((await call(sim, 'GET', '/repos/acme/api', OCTO)).status, 200, 'a token authorized for acme gets through')
  t.equal((await call(sim, 'GET', '/orgs/acme/members', OCTO)).status, 200)
  t.equal((await call(sim, 'GET', '/repos/acme/api', OCTO)).headers.get('x-github-sso'), null)
})

t.test('the lists leave out the org an unauthorized token may not reach, with partial-results', async (t) => {
  const sim = await startSimulator(t, ssoWorld())
  const repos = await call(sim, 'GET', '/user/repos', MONA)
  t.same(repos.body.map((r: { full_name: string }) => r.full_name), ['mona/dotfiles', 'mona/new-name', 'mona/site', 'widgets/core'])
  t.equal(repos.headers.get('x-github-sso'), 'partial-results; organizations=100')
  const orgs = await call(sim, 'GET', '/user/orgs', MONA)
  t.same(orgs.body.map((o: { login: string }) => o.login), ['widgets'])
  t.equal(orgs.headers.get('x-github-sso'), 'partial-results; organizations=100')
  const octoRepos = await call(sim, 'GET', '/user/repos', OCTO)
  t.same(octoRepos.body.map((r: { full_name: string }) => r.full_name), ['acme/api', 'acme/vault', 'acme/web', 'widgets/core'])
  t.equal(octoRepos.headers.get('x-github-sso'), null, 'nothing left out, no header')
  t.equal((await call(sim, 'GET', '/user/orgs', OCTO)).headers.get('x-github-sso'), null)
})

t.test('installation tokens, the JWT and ghu_ tokens are not affected by SSO', async (t) => {
  const sim = await startSimulator(t, ssoWorld())
  const app = appFor(sim)
  const installation = await app.getInstallationOctokit(7002)
  t.equal((await installation.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'api' })).status, 200, 'installation token')
  t.equal((await app.octokit.request('GET /orgs/{org}/installation', { org: 'acme' })).status, 200, 'JWT')
  const { token } = sim.state.issueUserToken(1)
  t.equal((await call(sim, 'GET', '/repos/acme/api', token)).status, 200, 'ghu_ token')
  const orgs = await call(sim, 'GET', '/user/orgs', token)
  t.same(orgs.body.map((o: { login: string }) => o.login), ['acme'])
  t.equal(orgs.headers.get('x-github-sso'), null)
  t.equal((await call(sim, 'GET', '/user/memberships/orgs/acme', token)).status, 200)
})

t.test('visiting the X-GitHub-SSO url authorizes the token, once', async (t) => {
  const sim = await startSimulator(t, ssoWorld())
  const url = /url=(\S+)/.exec((await call(sim, 'GET', '/repos/acme/api', MONA)).headers.get('x-github-sso')!)![1]!
  const page = await fetch(url)
  t.equal(page.status, 200)
  const html = await page.text()
  t.match(html, /Token authorized for acme/)
  t.notOk(html.includes(MONA), 'the page never shows the token')
  t.equal((await call(sim, 'GET', '/repos/acme/api', MONA)).status, 200, 'the token now reaches acme')
  t.equal((await call(sim, 'GET', '/user/repos', MONA)).headers.get('x-github-sso'), null)
  t.equal((await fetch(url)).status, 404, 'a used url')
  t.equal((await fetch(`${sim.url}/orgs/acme/sso?authorization_request=nope`)).status, 404, 'an unknown one')
  t.equal((await fetch(`${sim.url}/orgs/acme/sso`)).status, 404, 'none')
  const hubotUrl = /url=(\S+)/.exec((await call(sim, 'GET', '/orgs/acme/members', 'gho_legacy_hubot_0002')).headers.get('x-github-sso')!)![1]!
  t.equal((await fetch(hubotUrl.replace('/orgs/acme/', '/orgs/widgets/'))).status, 404, 'a url of another org')
  sim.state.ssoRequests.get(new URL(hubotUrl).searchParams.get('authorization_request')!)!.expiresAt = new Date(Date.now() - 1)
  t.equal((await fetch(hubotUrl)).status, 404, 'an expired url')
  t.equal((await call(sim, 'GET', '/orgs/acme/members', 'gho_legacy_hubot_0002')).status, 403, 'hubot is still refused')
})

t.test('POST /_sim/users/{login}/sso-authorize authorizes a legacy token for an SSO org later', async (t) => {
  const sim = await startSimulator(t, ssoWorld())
  t.equal((await call(sim, 'GET', '/user/orgs', MONA)).body.length, 1)
  const done = await control(sim, '/users/mona/sso-authorize', { org: 'ACME' })
  t.same(done, { status: 200, body: { login: 'mona', legacyTokenSsoOrgs: ['acme'] } })
  t.same((await call(sim, 'GET', '/user/orgs', MONA)).body.map((o: { login: string }) => o.login), ['acme', 'widgets'], 'the cached list follows')
  t.equal((await call(sim, 'GET', '/user/repos', MONA)).body.length, 7)
  const dump = (await (await fetch(`${sim.url}/_sim/state`)).json()) as any
  t.match(dump.users.find((u: { login: string }) => u.login === 'mona'), { legacyTokenSsoOrgs: ['acme'] })
  t.match(dump.orgs, [{ login: 'acme', samlSso: true }, { login: 'widgets', samlSso: false }])
  t.match(await control(sim, '/users/nobody/sso-authorize', { org: 'acme' }), { status: 404, body: { message: /nobody/ } })
  t.match(await control(sim, '/users/mona/sso-authorize', { org: 'nowhere' }), { status: 404, body: { message: /nowhere/ } })
  t.match(await control(sim, '/users/mona/sso-authorize', { org: 'mona' }), { status: 404 }, 'a user is no org')
  t.match(await control(sim, '/users/octo/sso-authorize', { org: 'widgets' }), { status: 422, body: { message: /does not enforce SAML/ } })
  t.equal((await control(sim, '/users/mona/sso-authorize', { organization: 'acme' })).status, 400)
})

t.test('a world names only orgs in legacy_token_sso_orgs', async (t) => {
  const world = demoWorld()
  world.users[0]!.legacy_token_sso_orgs = ['ACME', 'ghost']
  t.throws(() => validateWorld(world), { message: 'world: /users/0/legacy_token_sso_orgs/1: no org has the login "ghost"' })
  world.users[0]!.legacy_token_sso_orgs = ['ACME']
  t.equal(validateWorld(world), world, 'logins are not case sensitive')
})
