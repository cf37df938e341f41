import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import type { World } from '../../src/simulator/world.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld, type StartedSimulator } from '../helpers/simulator.js'
import { csrfOf, followSetup, formAction, installOnGitHub, press, settled, view, viewNow } from '../helpers/wizard.js'

// Batches larger than one install link, owners where the App is already installed (adding
// what it misses through the API, or on GitHub's settings page when GitHub refuses the legacy
// token), double clicks, who may press what, planning again, coming back later, and what the
// pages never show.

// The 250-repository batch adds 150 repositories one PUT at a time, spaced by the token's lane
// (a second apart in production, GitHub's advice for mutating requests; 20 ms here).
t.setTimeout(420_000)

const HOOK_URL = 'https://ci.example.com/hooks/github'
/** Anything that looks like a GitHub token: legacy (gho_), user (ghu_), installation (ghs_), refresh (ghr_). */
const TOKEN = /gh[opsur]_[A-Za-z0-9_]{6,}/

/** The part of /migrate about one owner. */
function section(body: string, owner: string): string {
  const start = body.indexOf(`id="owner-${owner}"`)
  if (start < 0) throw new Error(`no batch for ${owner}`)
  return body.slice(start, body.indexOf('</section>', start))
}

const pad = (n: number): string => String(n).padStart(3, '0')

/**
 * mona alone, with `count` repositories of her own account enabled through the legacy app.
 * Repository ids run against the order of their names, so "the first 100 by name" is not
 * "the first 100 by id".
 */
function ownRepos(count: number): World {
  const demo = demoWorld()
  const repos = Array.from({ length: count }, (_, i) => ({
    id: 3000 + i,
    owner: 'mona',
    name: `repo-${pad(count - i)}`,
    private: i % 2 === 0,
    hooks: [{ id: 7000 + i, url: HOOK_URL, created_by: 'legacy-oauth-client' }],
  }))
  return {
    app: demo.app,
    legacy_oauth_app: demo.legacy_oauth_app,
    users: [{ id: 1, login: 'mona', legacy_token: 'gho_legacy_mona_0001', legacy_scopes: ['repo', 'admin:repo_hook'] }],
    orgs: [],
    repos,
    installations: [],
    legacy_registrations: repos.map((repo, i) => ({
      id: i + 1,
      github_user_id: 1,
      kind: 'repo' as const,
      owner_id: 1,
      owner_login: 'mona',
      owner_type: 'User' as const,
      repo_id: repo.id,
      repo_name: repo.name,
      hook_id: repo.hooks[0]!.id,
      hook_url: HOOK_URL,
      created_at: '2020-01-01T00:00:00Z',
    })),
  }
}

/** The demo world with the App already installed on mona's account (dotfiles only) and on acme (api only). */
function alreadyInstalled(): World {
  const world = demoWorld()
  world.installations = [
    { id: 500, account: 'mona', repository_selection: 'selected', repositories: [1000] },
    { id: 501, account: 'acme', repository_selection: 'selected', repositories: [1100] },
  ]
  return world
}

async function batchOf(service: Service, ownerLogin: string, userId = 1) {
  return service.tdb.db.selectFrom('app.batch').selectAll().where('owner_login', '=', ownerLogin).where('user_id', '=', userId).executeTakeFirstOrThrow()
}

async function reposOf(service: Service, batchId: number) {
  return service.tdb.db.selectFrom('app.batch_repo').selectAll().where('batch_id', '=', batchId).orderBy('repo_name').execute()
}

async function audited(service: Service, action: string) {
  return service.tdb.db.selectFrom('app.audit_event').selectAll().where('action', '=', action).orderBy('id').execute()
}

async function addJobs(service: Service): Promise<number> {
  const { rows } = await service.tdb.pool.query<{ n: number }>(`select count(*)::int as n from pgboss.job where name = 'add-repos'`)
  return rows[0]!.n
}

/** GitHub API calls the simulator answered, as "METHOD /path". */
function apiCalls(sim: StartedSimulator, method: string, path: RegExp): number {
  return sim.state.apiLog.filter((e) => e.method === method && path.test(e.path)).length
}

/** Waits until `check` holds for the page as it is at that moment (not once the work under way has ended: a passing moment is what it looks for), or fails with what the page said last. */
async function pageUntil(app: FastifyInstance, cookie: string, check: (body: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { body } = await viewNow(app, cookie)
    if (check(body)) return body
    if (Date.now() > deadline) throw new Error(`the page never got there; it says: ${body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ')}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/**
 * GitHub fails (502) to add one repository to an installation until the returned function is
 * called: the job adding repositories cannot get past it (octokit tries it three times, for
 * a few seconds), so the page can be read half-way; then the run stops and says why.
 */
function failAddingOf(sim: StartedSimulator, installationId: number, repoId: number): () => void {
  sim.state.faults.errors = [{ method: 'PUT', pattern: `/user/installations/${installationId}/repositories/${repoId}`, status: 502, rate: 1 }]
  return () => {
    sim.state.faults.errors = []
  }
}

/** POSTs a form of /migrate as the page would, with its CSRF token (and the form's other fields). */
async function post(app: FastifyInstance, cookie: string, url: string, fields: string | Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const token = typeof fields === 'string' ? fields : csrfOf((await view(app, cookie)).body)
  return app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: token, ...(typeof fields === 'string' ? {} : fields) } })
}

/** The first link on the page whose text is `label`, unescaped. */
function linkTo(body: string, label: string): string {
  const match = new RegExp(`<a [^>]*href="([^"]+)"[^>]*>${label}</a>`).exec(body)
  if (match === null) throw new Error(`no link "${label}" on the page`)
  return match[1]!.replace(/&amp;/g, '&')
}

/**
 * The user on GitHub's installation settings page as the link opens it: what is ticked stays
 * ticked, Save. Returns the page and where GitHub sends the browser afterwards.
 */
async function saveOnGitHub(sim: StartedSimulator, href: string, userId: number): Promise<{ page: string; location: string }> {
  const url = new URL(href)
  const cookies = { gh_sim_user: String(userId), gh_sim_csrf: 'c'.repeat(32) }
  const page = await sim.sim.app.inject({ url: `${url.pathname}${url.search}`, cookies })
  if (page.statusCode !== 200) throw new Error(`GitHub's settings page answered ${page.statusCode}`)
  const form = new URLSearchParams({ _csrf: cookies.gh_sim_csrf, repository_selection: 'selected' })
  for (const [, id] of page.body.matchAll(/name="repository_ids" value="(\d+)" checked/g)) form.append('repository_ids', id!)
  const saved = await sim.sim.app.inject({
    method: 'POST',
    url: url.pathname,
    cookies,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form.toString(),
  })
  if (saved.statusCode !== 302) throw new Error(`GitHub's settings page answered ${saved.statusCode} to Save`)
  return { page: page.body, location: saved.headers.location as string }
}

for (const count of [101, 250]) {
  t.test(`a batch of ${count} repositories of mona's own account: 100 in the link, the other ${count - 100} added through the API after the install`, async (t) => {
    // Writes of mona's token 20 ms apart (a second in production), so the page is read midway.
    const service = await serviceWithGitHub(t, ownRepos(count), { githubLanes: { writeSpacingMs: 20 } })
    const { app, sim } = service
    // GitHub's limit of 80 writes a minute would add a minute's wait: not what is tested here.
    sim.state.limits.writesPerMinute = 10_000
    const cookie = await signIn(app, sim, 1)
    const first = await view(app, cookie)
    t.equal(first.statusCode, 200)
    const mona = section(first.body, 'mona')
    t.match(mona, `the first 100 are selected on GitHub, and the other ${count - 100} are added for you right after you install`)

    const toGitHub = await press(app, cookie, formAction(first.body, 'Install on mona'))
    t.equal(toGitHub.statusCode, 303)
    const link = new URL(toGitHub.headers.location as string)
    const linked = link.searchParams.getAll('repository_ids[]').map(Number)
    const byName = [...sim.state.repos.values()].sort((a, b) => a.name.localeCompare(b.name))
    t.same(linked, byName.slice(0, 100).map((r) => r.id), 'exactly 100 preselected: the first 100 by name')
    const rest = byName.slice(100).map((r) => r.id)

    const batch = await batchOf(service, 'mona')
    const back = await followSetup(app, sim, cookie, installOnGitHub(sim, link.toString(), 'mona'), 1)
    t.equal(back.statusCode, 302)
    t.equal(back.headers.location, '/migrate#owner-mona')
    if (rest.length > 1) {
      // GitHub is asked to add one repository at a time, spaced (the lane of mona's token): the
      // page is read while some are in and some are not.
      const progress = /Adding repositories to the installation: <strong>(\d+) of (\d+)<\/strong> done. This page refreshes by itself./
      const midway = await pageUntil(app, cookie, (body) => Number(progress.exec(body)?.[1] ?? 0) > 0)
      const [, added, of] = progress.exec(section(midway, 'mona'))!
      t.ok(Number(added) > 0 && Number(added) < rest.length, `half-way: ${added} of ${of}`)
      t.equal(Number(of), rest.length)
      t.match(midway, '<meta http-equiv="refresh" content="2">', 'the page reloads by itself while adding')
    }
    await settled(service, 240_000)

    const installation = [...sim.state.installations.values()][0]!
    t.equal(sim.state.installationRepos(installation).length, count, 'GitHub has every repository in the installation')
    const repos = await reposOf(service, batch.id)
    t.equal(repos.filter((r) => r.coverage === 'covered').length, count, 'every repository covered')
    t.same(
      repos.filter((r) => r.add_state === 'added').map((r) => r.repo_id).sort(),
      [...rest].sort(),
      'the repositories beyond the link, and only those, were added through the API',
    )
    const added = await audited(service, 'repo_added')
    t.same(added.map((e) => e.repo_id).sort(), [...rest].sort(), 'one repo_added event per repository added')
    t.ok(added.every((e) => e.outcome === 'ok' && e.installation_id === installation.id))
    t.equal((await audited(service, 'repos_add_started')).length, 1)
    const finished = await audited(service, 'repos_add_finished')
    t.equal(finished.length, 1)
    t.match(finished[0]!.detail, { path: 'api', added: count - 100 })
    t.equal((await batchOf(service, 'mona')).state, 'installed')
    t.equal(apiCalls(sim, 'PUT', /^\/user\/installations\/\d+\/repositories\/\d+$/), count - 100, 'one PUT per repository, none twice')

    const after = await view(app, cookie)
    t.match(section(after.body, 'mona'), /Covered[\s\S]*The GitHub App covers every repository here/)
    t.match(section(after.body, 'mona'), `${count} covered`)
    t.notMatch(after.body, 'http-equiv="refresh"', 'done: no more reloading')
  })
}

t.test('already installed: the page shows what the installation covers, and adds the missing repositories in one click, through the API', async (t) => {
  const service = await serviceWithGitHub(t, alreadyInstalled())
  const { app, sim } = service
  const cookie = await signIn(app, sim, 1)
  const first = await view(app, cookie)
  const mona = section(first.body, 'mona')
  t.match(mona, /<span class="status">Installed<\/span>/)
  t.match(mona, 'The App is installed here but does not cover 2 of these repositories yet')
  t.match(mona, 'Coverage: 1 covered, 2 not covered')
  t.match(mona, /mona\/dotfiles[\s\S]*?covered</)
  t.match(mona, /mona\/site \(private\)[\s\S]*?not covered</)
  t.notMatch(mona, 'Install on mona', 'no trip through GitHub offered')
  t.same((await audited(service, 'installation_found')).map((e) => [e.owner_login, e.installation_id]).sort(), [['acme', 501], ['mona', 500]])

  const pressed = await press(app, cookie, formAction(mona, 'Add the 2 missing repositories'))
  t.equal(pressed.statusCode, 303)
  t.equal(pressed.headers.location, '/migrate#owner-mona', 'one click, back to the page, no round trip through GitHub')
  await settled(service)

  const after = section((await view(app, cookie)).body, 'mona')
  t.match(after, /Covered[\s\S]*Coverage: 3 covered/)
  t.same(sim.state.installationRepos(sim.state.installations.get(500)!).map((r) => r.id).sort(), [1000, 1001, 1002])
  t.equal((await batchOf(service, 'mona')).state, 'installed', 'no settings page after the API worked')
  const finished = await audited(service, 'repos_add_finished')
  t.match(finished, [{ owner_login: 'mona', installation_id: 500, outcome: 'ok', detail: { path: 'api', added: 2 } }])
  t.match(await audited(service, 'repo_added'), [
    { repo_id: 1002, repo_name: 'new-name', outcome: 'ok', detail: { path: 'api' } },
    { repo_id: 1001, repo_name: 'site', outcome: 'ok', detail: { path: 'api' } },
  ])

  // acme: the org hook is only replaced by an installation on all repositories, so once the
  // repositories are in, the next step is that install.
  await press(app, cookie, formAction(section((await view(app, cookie)).body, 'acme'), 'Add the 2 missing repositories'))
  await settled(service)
  const acme = section((await view(app, cookie)).body, 'acme')
  t.match(acme, 'Coverage: 3 covered')
  t.match(acme, 'is only replaced by an installation on all repositories')
  // (mona's legacy token cannot read her role in acme: GitHub's install page decides, and there she is an owner.)
  t.match(acme, /organization webhook[\s\S]*all repositories[\s\S]*Install or ask the owners of acme on GitHub/)
  const toAll = await press(app, cookie, formAction(acme, 'Install or ask the owners of acme on GitHub'))
  const link = new URL(toAll.headers.location as string)
  t.same(link.searchParams.getAll('repository_ids[]'), [], 'all repositories')
  t.match((await audited(service, 'install_link_issued')).at(-1), { owner_login: 'acme', installation_id: 501, detail: { repositories: 'all' } })
  await followSetup(app, sim, cookie, installOnGitHub(sim, link.toString(), 'mona'), 1)
  await settled(service)
  const done = section((await view(app, cookie)).body, 'acme')
  t.match(done, /Covered[\s\S]*Coverage: 3 covered/)
  t.match(done, 'is replaced by the installation')
})

t.test('GitHub failing half-way through adding: the page shows the progress, then why the rest was not added, and one more click finishes', async (t) => {
  const service = await serviceWithGitHub(t, alreadyInstalled())
  const { app, sim } = service
  const cookie = await signIn(app, sim, 1)
  const mona = section((await view(app, cookie)).body, 'mona')
  // Repositories are added in the order of their names: new-name, then site, which fails.
  const heal = failAddingOf(sim, 500, 1001)
  await press(app, cookie, formAction(mona, 'Add the 2 missing repositories'))
  const midway = await pageUntil(app, cookie, (body) => section(body, 'mona').includes('<strong>1 of 2</strong>'))
  t.match(section(midway, 'mona'), 'Adding repositories to the installation: <strong>1 of 2</strong> done. This page refreshes by itself.')
  t.match(midway, '<meta http-equiv="refresh" content="2">')
  await settled(service)
  const stopped = section((await view(app, cookie)).body, 'mona')
  t.match(stopped, /mona\/site \(private\)[\s\S]*?not added: GitHub did not answer \(502\): try again in a moment./)
  t.match(stopped, 'Coverage: 2 covered, 1 not covered')
  t.match(await audited(service, 'repos_add_finished'), [{ outcome: 'stopped', reason: /did not answer/, detail: { path: 'api', added: 1 } }])

  heal()
  const before = apiCalls(sim, 'PUT', /^\/user\/installations\//)
  await press(app, cookie, formAction(stopped, 'Add the 1 missing repository'))
  await settled(service)
  t.match(section((await view(app, cookie)).body, 'mona'), /Covered[\s\S]*Coverage: 3 covered/)
  t.equal(apiCalls(sim, 'PUT', /^\/user\/installations\//) - before, 1, 'only site, again')
  t.notMatch(section((await view(app, cookie)).body, 'mona'), 'not added')
})

t.test('already installed, but GitHub refuses the legacy token: the installation settings page, with the repositories to tick', async (t) => {
  const service = await serviceWithGitHub(t, alreadyInstalled())
  const { app, sim } = service
  const refused = await sim.sim.app.inject({ method: 'PUT', url: '/_sim/settings', payload: { legacyTokensMayAddRepos: false } })
  t.equal(refused.statusCode, 200)
  const cookie = await signIn(app, sim, 1)
  t.equal((await view(app, cookie)).statusCode, 200, 'planned')
  const monaBatch = await batchOf(service, 'mona')
  const acmeBatch = await batchOf(service, 'acme')

  t.equal((await post(app, cookie, `/migrate/batches/${monaBatch.id}/add`)).statusCode, 303)
  t.equal((await post(app, cookie, `/migrate/batches/${acmeBatch.id}/add`)).statusCode, 303)
  await settled(service)

  const body = (await view(app, cookie)).body
  const mona = section(body, 'mona')
  t.match(mona, "GitHub did not let us add repositories for you. On the installation's settings page, tick:")
  t.match(mona, /<ul class="repos">\s*<li>mona\/new-name<\/li>\s*<li>mona\/site<\/li>\s*<\/ul>/)
  const monaLink = linkTo(mona, "Open the installation's settings on GitHub")
  t.equal(monaLink, `${sim.url}/settings/installations/500?repository_ids%5B%5D=1002&repository_ids%5B%5D=1001`)
  const acmeLink = linkTo(section(body, 'acme'), "Open the installation's settings on GitHub")
  t.equal(acmeLink, `${sim.url}/organizations/acme/settings/installations/501?repository_ids%5B%5D=1102&repository_ids%5B%5D=1101`)

  t.match(await batchOf(service, 'mona'), { state: 'add_refused', state_reason: /Resource not accessible by OAuth app|does not let/ }, 'the settings page, and why')
  t.match(await audited(service, 'repos_add_finished'), [
    { owner_login: 'mona', outcome: 'fallback_settings_page', reason: /Resource not accessible by OAuth app/, detail: { path: 'settings_page', added: 0 } },
    { owner_login: 'acme', outcome: 'fallback_settings_page', detail: { path: 'settings_page' } },
  ])
  t.equal((await reposOf(service, monaBatch.id)).filter((r) => r.add_state !== null).length, 0, 'nothing left pending')
  t.equal(apiCalls(sim, 'PUT', /^\/user\/installations\//), 2, 'one refusal per batch, then no more tries')

  // Pressing Add again (an old tab) goes to the same settings page.
  const again = await post(app, cookie, `/migrate/batches/${monaBatch.id}/add`)
  t.equal(again.statusCode, 303)
  t.equal(again.headers.location, monaLink)

  // On GitHub: the link has the two ticked on top of what is covered; Save.
  const saved = await saveOnGitHub(sim, monaLink, 1)
  t.match(saved.page, 'To add: <strong>mona/new-name, mona/site</strong>')
  const setup = new URL(saved.location)
  t.equal(setup.searchParams.get('setup_action'), 'update')
  const confirmed = await app.inject({ url: `${setup.pathname}${setup.search}`, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(confirmed.statusCode, 200, 'GitHub comes back without a state: a confirmation, not an error')
  await settled(service)
  t.match(section((await view(app, cookie)).body, 'mona'), /Covered[\s\S]*Coverage: 3 covered/, "the webhook made it covered")

  // GitHub takes the legacy token again: "Try adding them for you again" goes back to the API.
  await sim.sim.app.inject({ method: 'PUT', url: '/_sim/settings', payload: { legacyTokensMayAddRepos: true } })
  const acme = section((await view(app, cookie)).body, 'acme')
  t.match(acme, "Why: GitHub refused the old app&#39;s authorization for adding repositories: Resource not accessible by OAuth app.")
  const retried = await post(app, cookie, formAction(acme, 'Try adding them for you again'), { via: 'api' })
  t.equal(retried.statusCode, 303)
  t.equal(retried.headers.location, '/migrate#owner-acme', 'back to the page, not to GitHub')
  await settled(service)
  t.match(section((await view(app, cookie)).body, 'acme'), 'Coverage: 3 covered', 'added through the API (the org webhook still asks for all repositories)')
  t.equal((await batchOf(service, 'acme')).state, 'installed')
})

t.test('two tabs or a double click on "Add": one job, one start, each repository added once', async (t) => {
  const service = await serviceWithGitHub(t, alreadyInstalled())
  const { app, sim } = service
  const cookie = await signIn(app, sim, 1)
  const csrf = csrfOf((await view(app, cookie)).body)
  const batch = await batchOf(service, 'mona')
  const both = await Promise.all([post(app, cookie, `/migrate/batches/${batch.id}/add`, csrf), post(app, cookie, `/migrate/batches/${batch.id}/add`, csrf)])
  t.same(both.map((r) => [r.statusCode, r.headers.location]), [
    [303, '/migrate#owner-mona'],
    [303, '/migrate#owner-mona'],
  ])
  await settled(service)
  t.equal(await addJobs(service), 1, 'one job')
  t.equal((await audited(service, 'repos_add_started')).length, 1, 'one start recorded')
  t.equal((await audited(service, 'repo_added')).length, 2)
  t.equal(apiCalls(sim, 'PUT', /^\/user\/installations\//), 2, 'each repository PUT once')

  // A third press once all is in: nothing to add, nothing done.
  t.equal((await post(app, cookie, `/migrate/batches/${batch.id}/add`)).statusCode, 303)
  await settled(service)
  t.equal(await addJobs(service), 1)
  t.equal((await audited(service, 'repos_add_started')).length, 1)
})

t.test('who may press what: foreign batches are not found, onlookers cannot install, and a POST needs its CSRF token', async (t) => {
  const world = demoWorld()
  // mona's dotfiles now belong to octo's account, where mona has no role.
  world.repos.find((r) => r.id === 1000)!.owner = 'octo'
  const service = await serviceWithGitHub(t, world)
  const { app, sim } = service
  const mona = await signIn(app, sim, 1)
  const octo = await signIn(app, sim, 3)
  const page = (await view(app, mona)).body
  const onlooker = section(page, 'octo')
  t.match(onlooker, 'You have no role in octo: one of its owners has to install the App.')
  t.match(onlooker, 'octo/dotfiles (moved here)', 'what moved is shown under its owner of today')
  t.notMatch(onlooker, '<form', 'nothing to press')

  const octoBatch = await batchOf(service, 'octo')
  t.equal(octoBatch.action, 'none')
  const refusedInstall = await post(app, mona, `/migrate/batches/${octoBatch.id}/install`)
  t.equal(refusedInstall.statusCode, 403)
  t.match(refusedInstall.body, 'Only an owner or member of octo can install the App there.')
  t.equal((await post(app, mona, `/migrate/batches/${octoBatch.id}/add`)).statusCode, 409, 'nor add to an installation there')

  const monaBatch = await batchOf(service, 'mona')
  // octo, signed in, pressing on mona's batch:
  for (const step of ['install', 'add', 'check']) {
    const res = await post(app, octo, `/migrate/batches/${monaBatch.id}/${step}`)
    t.equal(res.statusCode, 404, `${step} on someone else's batch`)
    t.match(res.body, 'There is no such step in your migration.')
    t.notMatch(res.body, /mona|dotfiles/, 'says nothing of whose it is')
  }
  for (const id of ['abc', '0', '-1', '99999999999999999999']) {
    t.equal((await post(app, mona, `/migrate/batches/${id}/install`)).statusCode, 404, `batch id ${id}`)
  }

  const before = (await audited(service, 'install_link_issued')).length
  for (const url of [`/migrate/batches/${monaBatch.id}/install`, `/migrate/batches/${monaBatch.id}/add`, `/migrate/batches/${monaBatch.id}/check`, '/migrate/refresh']) {
    const bare = await app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: mona }, payload: {} })
    t.equal(bare.statusCode, 403, `${url} without a CSRF token`)
    const forged = await app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: mona }, payload: { _csrf: csrfOf((await view(app, octo)).body) } })
    t.equal(forged.statusCode, 403, `${url} with another session's CSRF token`)
  }
  t.equal((await audited(service, 'install_link_issued')).length, before, 'nothing was issued')
  t.equal((await batchOf(service, 'mona')).state, 'planned')
})

t.test('planning again keeps the installation and its coverage and follows a rename; signing in later finds the plan as it was', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, 1)
  const link = (await press(app, cookie, formAction((await view(app, cookie)).body, 'Install on mona'))).headers.location as string
  await followSetup(app, sim, cookie, installOnGitHub(sim, link, 'mona'), 1)
  await settled(service)
  // acme: sent to GitHub, never came back.
  await press(app, cookie, formAction((await view(app, cookie)).body, 'Install or ask the owners of acme on GitHub'))
  const installed = await batchOf(service, 'mona')
  t.equal(installed.state, 'installed')

  t.equal((await sim.sim.app.inject({ method: 'POST', url: '/_sim/repos/1001/rename', payload: { name: 'website' } })).statusCode, 200)
  t.match(section((await view(app, cookie)).body, 'mona'), 'mona/site (private)', 'the page reads Postgres, not GitHub')

  const { planned_at: firstPlanned } = await service.tdb.db.selectFrom('app.inventory').select('planned_at').where('user_id', '=', 1).executeTakeFirstOrThrow()
  const refreshed = await press(app, cookie, '/migrate/refresh')
  t.equal(refreshed.statusCode, 303)
  t.equal(refreshed.headers.location, '/migrate')
  const mona = section((await view(app, cookie)).body, 'mona')
  t.match(mona, 'mona/website (private)', 'the rename, by repository id')
  t.notMatch(mona, 'mona/site')
  t.match(mona, /Covered[\s\S]*Coverage: 3 covered/)
  const replanned = await batchOf(service, 'mona')
  t.match(replanned, { id: installed.id, state: 'installed', installation_id: installed.installation_id, state_reason: null })
  t.same((await reposOf(service, installed.id)).map((r) => [r.repo_name, r.coverage]), [
    ['dotfiles', 'covered'],
    ['new-name', 'covered'],
    ['website', 'covered'],
  ])
  t.equal((await batchOf(service, 'acme')).state, 'link_issued', 'a link sent to GitHub is remembered too')

  // A day later, a new session: the same state, from Postgres, without asking GitHub again.
  const { planned_at: planned } = await service.tdb.db.selectFrom('app.inventory').select('planned_at').where('user_id', '=', 1).executeTakeFirstOrThrow()
  t.ok(planned > firstPlanned, 'planned again')
  const orgsAsked = apiCalls(sim, 'GET', /^\/user\/orgs$/)
  const reposAsked = apiCalls(sim, 'GET', /^\/user\/repos$/)
  const before = (await view(app, cookie)).body
  const later = await signIn(app, sim, 1)
  t.not(later, cookie, 'a new session')
  const resumed = (await view(app, later)).body
  // The same page but for the new session's CSRF token.
  const sameButToken = (body: string) => body.replace(/name="_csrf" value="[^"]+"/g, '')
  t.equal(sameButToken(section(resumed, 'mona')), sameButToken(section(before, 'mona')))
  t.equal(sameButToken(section(resumed, 'acme')), sameButToken(section(before, 'acme')))
  t.equal(apiCalls(sim, 'GET', /^\/user\/orgs$/), orgsAsked, 'not planned again')
  t.equal(apiCalls(sim, 'GET', /^\/user\/repos$/), reposAsked)
  const { planned_at: same } = await service.tdb.db.selectFrom('app.inventory').select('planned_at').where('user_id', '=', 1).executeTakeFirstOrThrow()
  t.same(same, planned)
})

t.test("others' private repositories are counted, never named, on any page, before and after the install; no page shows a token", async (t) => {
  const world = demoWorld()
  world.orgs!.find((o) => o.login === 'acme')!.default_repository_permission = 'none'
  const service = await serviceWithGitHub(t, world)
  const { app, sim } = service
  const pages: string[] = []
  const seen = async (cookie: string, url = '/migrate'): Promise<string> => {
    const { body } = await view(app, cookie, url)
    pages.push(body)
    return body
  }
  const octo = await signIn(app, sim, 3)
  const mona = await signIn(app, sim, 1)
  const before = section(await seen(octo), 'acme')
  t.match(before, 'and 2 private repositories you cannot see, enabled by others')
  t.match(before, 'acme/vault')

  // mona, an owner of acme, installs on all of acme; octo's batch gets the coverage too.
  const link = (await press(app, mona, formAction(await seen(mona), 'Install or ask the owners of acme on GitHub'))).headers.location as string
  await followSetup(app, sim, mona, installOnGitHub(sim, link, 'mona'), 1)
  await settled(service)
  await seen(mona)
  const after = section(await seen(octo), 'acme')
  t.match(after, /Covered[\s\S]*Coverage: 1 covered/)
  t.match(after, 'and 2 private repositories you cannot see, enabled by others')

  // octo checks again and plans again: still counted, still not named.
  await press(app, octo, formAction(after, 'Check again'))
  await press(app, octo, '/migrate/refresh')
  await seen(octo)
  await seen(octo, '/')
  // pages: octo, mona, mona, octo, octo (after check and replan), octo's landing page.
  const octoPages = [pages[0]!, ...pages.slice(3)]
  for (const body of octoPages) {
    t.notMatch(body, /acme\/api|acme\/web|>api<|>web</, "octo's pages never name the private repositories he cannot see")
  }
  t.match(pages[1]!, /acme\/web \(private\)\s*<span class="muted">enabled by hubot/, 'mona, who can see it, does see it')
  for (const body of pages) {
    t.notMatch(body, 'gho_legacy_', 'no legacy token')
    t.notMatch(body, TOKEN, 'no token of any kind')
  }
})
