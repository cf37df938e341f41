import t, { type Test } from 'tap'
import { sharedKeyPair } from '../../helpers/keys.js'
import { buildSimulator } from '../../../src/simulator/server.js'
import type { SimEvent } from '../../../src/simulator/state.js'
import type { World } from '../../../src/simulator/world.js'
import { demoWorld } from '../../helpers/simulator.js'
import { Browser, query } from './browser.js'

// An org owner's pending installation requests on GitHub: approve (the app is installed, the
// owner goes to the setup URL with no state) or deny.

const PAGE = '/organizations/acme/settings/installations'
const PERMISSIONS = '/apps/acme-ci/installations/new/permissions'

async function simulator(t: Test, world: World = demoWorld()) {
  const sim = await buildSimulator({ world, logLevel: 'silent', madeKeyPair: sharedKeyPair() })
  t.teardown(() => sim.app.close())
  const events: SimEvent[] = []
  sim.state.onEvent = (event) => events.push(event)
  /** A member asks for the app through GitHub's install page, in their own browser. */
  const requestAs = async (login: string, accountId: number, form: Record<string, string | string[]>): Promise<number> => {
    const member = new Browser(sim.app)
    await member.signIn(login)
    await member.get(`${PERMISSIONS}?suggested_target_id=${accountId}`)
    await member.post(PERMISSIONS, { target_id: String(accountId), ...form })
    return [...sim.state.requests.values()].find((r) => r.requesterId === sim.state.userByLogin(login)!.id && r.accountId === accountId)!.id
  }
  return { b: new Browser(sim.app), state: sim.state, events, requestAs }
}

/** The requests listed on the page: requester and what they asked for. */
function listed(html: string): string[] {
  return [...html.matchAll(/<strong>(\w+)<\/strong> requested <strong>Acme CI<\/strong> for\s+([^<]+?)\s*<form method="post" action="([^"]+)">/g)].map(
    (m) => `${m[1]}: ${m[2]} -> ${m[3]}`,
  )
}

t.test('owners only: a signed-out visitor signs in first, anyone else gets a 404', async (t) => {
  const { b, requestAs } = await simulator(t)
  const id = await requestAs('hubot', 100, { repository_selection: 'all' })
  const out = await b.get(PAGE)
  t.equal(out.status, 303)
  t.equal(query(out.location).get('return_to'), PAGE)
  const postOut = await b.post(`${PAGE}/requests/${id}`, { decision: 'approve' })
  t.equal(postOut.status, 303)
  t.equal(query(postOut.location).get('return_to'), PAGE)

  await b.signIn('hubot')
  for (const url of [PAGE, '/organizations/widgets/settings/installations', '/organizations/mona/settings/installations', '/organizations/nobody/settings/installations']) {
    const res = await b.get(url)
    t.equal(res.status, 404, url)
    t.match(res.body, 'This page does not exist, or you are not allowed to see it.')
  }
  t.equal((await b.post(`${PAGE}/requests/${id}`, { decision: 'approve' })).status, 404, 'a member cannot approve')
  await b.signIn('octo')
  t.equal((await b.get('/organizations/widgets/settings/installations')).status, 200, "widgets' owner")
  t.equal((await b.get(PAGE)).status, 404, 'but only a member of acme')
})

t.test('the page lists the pending requests and the installation; Approve installs and goes to the setup URL without state', async (t) => {
  const { b, state, events, requestAs } = await simulator(t)
  const hubot = await requestAs('hubot', 100, { repository_selection: 'selected', repository_ids: ['1101'], state: 'hubot-batch' })
  const octo = await requestAs('octo', 100, { repository_selection: 'selected', repository_ids: ['1102', '1100'] })
  await requestAs('mona', 101, { repository_selection: 'all' })
  await b.signIn('mona')
  const page = await b.get(PAGE)
  t.equal(page.status, 200)
  t.match(page.body, '<h1>acme · GitHub Apps</h1>')
  t.match(page.body, 'Acme CI is not installed on acme.')
  t.same(listed(page.body), [`hubot: acme/web -> ${PAGE}/requests/${hubot}`, `octo: acme/api, acme/vault -> ${PAGE}/requests/${octo}`], "only acme's requests, oldest first")
  t.match(page.body, '<button type="submit" name="decision" value="approve" class="primary">Approve &amp; install</button>')
  t.match(page.body, '<button type="submit" name="decision" value="deny">Deny</button>')

  const approved = await b.post(`${PAGE}/requests/${hubot}`, { decision: 'approve' })
  t.equal(approved.status, 302)
  t.match(approved.location, /^http:\/\/localhost:3000\/github\/setup\?/)
  const installation = state.installationOn(100)!
  t.same(Object.fromEntries(query(approved.location)), { installation_id: String(installation.id), setup_action: 'install' }, 'no state: the owner never started the flow')
  t.match(installation, { repositorySelection: 'selected' })
  t.same([...installation.repositoryIds], [1101])
  t.notOk(state.requests.has(hubot), 'the request is answered')
  t.match(events, [{ name: 'installation', action: 'created', installation, sender: { login: 'mona' }, requester: { login: 'hubot' } }])

  const after = await b.get(PAGE)
  const settings = `/organizations/acme/settings/installations/${installation.id}`
  t.match(after.body, `(installation ${installation.id})</span>: 1 repository · <a href="${settings}">Configure</a>`)
  t.same(listed(after.body), [`octo: acme/api, acme/vault -> ${PAGE}/requests/${octo}`])
  t.equal((await b.get(settings)).status, 200, 'the link leads to the settings page')

  // A second request adds to the installation, as the test controls' approval does.
  events.length = 0
  const merged = await b.post(`${PAGE}/requests/${octo}`, { decision: 'approve' })
  t.same(Object.fromEntries(query(merged.location)), { installation_id: String(installation.id), setup_action: 'update' })
  t.same([...installation.repositoryIds].sort(), [1100, 1101, 1102])
  t.match(events, [{ name: 'installation_repositories', action: 'added', added: [{ id: 1100 }, { id: 1102 }], sender: { login: 'mona' }, requester: { login: 'octo' } }])
  const done = await b.get(PAGE)
  t.match(done.body, ': 3 repositories · <a')
  t.match(done.body, 'No pending requests.')
  t.equal((await b.post(`${PAGE}/requests/${octo}`, { decision: 'approve' })).status, 404, 'an answered request is gone')
})

t.test('Deny deletes the request and installs nothing', async (t) => {
  const { b, state, events, requestAs } = await simulator(t)
  const id = await requestAs('hubot', 100, { repository_selection: 'all' })
  await b.signIn('mona')
  const page = await b.get(PAGE)
  t.same(listed(page.body), [`hubot: all repositories -> ${PAGE}/requests/${id}`])
  const denied = await b.post(`${PAGE}/requests/${id}`, { decision: 'deny' })
  t.equal(denied.status, 303)
  t.equal(denied.location, PAGE)
  t.equal(state.requests.size, 0)
  t.equal(state.installations.size, 0)
  t.same(events, [])
  t.match((await b.get(PAGE)).body, 'No pending requests.')
})

t.test('the forms refuse what GitHub would not do', async (t) => {
  const { b, state, events, requestAs } = await simulator(t)
  const acme = await requestAs('hubot', 100, { repository_selection: 'selected', repository_ids: ['1101'] })
  const widgets = await requestAs('mona', 101, { repository_selection: 'all' })
  await b.signIn('mona')
  await b.get(PAGE)
  const cases: [string, Record<string, string>, number, string][] = [
    [`${PAGE}/requests/${acme}`, { decision: 'approve', _csrf: 'forged' }, 403, 'Form expired'],
    [`${PAGE}/requests/${acme}`, {}, 422, 'Choose Approve &amp; install or Deny.'],
    [`${PAGE}/requests/${acme}`, { decision: 'maybe' }, 422, 'Choose Approve'],
    [`${PAGE}/requests/${widgets}`, { decision: 'approve' }, 404, 'Not found'], // another org's request
    [`${PAGE}/requests/4242`, { decision: 'deny' }, 404, 'Not found'],
    [`/organizations/widgets/settings/installations/requests/${widgets}`, { decision: 'approve' }, 404, 'Not found'], // mona is a member there
  ]
  for (const [url, form, status, text] of cases) {
    const res = await b.post(url, form)
    t.equal(res.status, status, `${url} ${JSON.stringify(form)}`)
    t.match(res.body, text)
  }
  t.equal(state.requests.size, 2)
  t.equal(state.installations.size, 0)
  t.same(events, [])
})

t.test('without a setup URL, GitHub shows its own page; requested repositories deleted since are not listed', async (t) => {
  const world = demoWorld()
  delete world.app.setup_url
  world.installations = [{ id: 7001, account: 'acme', repository_selection: 'all' }]
  const { b, state, events, requestAs } = await simulator(t, world)
  const id = await requestAs('hubot', 100, { repository_selection: 'selected', repository_ids: ['1101'] })
  state.deleteRepo(state.repos.get(1101)!)
  await b.signIn('mona')
  const page = await b.get(PAGE)
  t.match(page.body, `(installation 7001)</span>: all repositories · <a href="/organizations/acme/settings/installations/7001">Configure</a>`)
  t.same(listed(page.body), [`hubot: repositories that no longer exist -> ${PAGE}/requests/${id}`])
  const res = await b.post(`${PAGE}/requests/${id}`, { decision: 'approve' })
  t.equal(res.status, 200)
  t.match(res.body, 'Acme CI is installed')
  t.match(res.body, 'on <strong>acme</strong>')
  t.equal(state.installationOn(100)!.repositorySelection, 'all', 'a request never narrows "all"')
  t.same(events, [])
  t.equal(state.requests.size, 0)
})
