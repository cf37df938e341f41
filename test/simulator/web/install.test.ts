import t, { type Test } from 'tap'
import { sharedKeyPair } from '../../helpers/keys.js'
import { buildSimulator } from '../../../src/simulator/server.js'
import type { SimEvent } from '../../../src/simulator/state.js'
import type { World } from '../../../src/simulator/world.js'
import { demoWorld } from '../../helpers/simulator.js'
import { Browser, query } from './browser.js'

const NEW = '/apps/acme-ci/installations/new'
const PERMISSIONS = `${NEW}/permissions`

async function simulator(t: Test, world: World = demoWorld()) {
  const sim = await buildSimulator({ world, logLevel: 'silent', madeKeyPair: sharedKeyPair() })
  t.teardown(() => sim.app.close())
  const events: SimEvent[] = []
  sim.state.onEvent = (event) => events.push(event)
  return { b: new Browser(sim.app), state: sim.state, events }
}

function ids(n: number, from = 1): string {
  return Array.from({ length: n }, (_, i) => `repository_ids[]=${from + i}`).join('&')
}

/** Checkbox ids and whether each is checked. */
function checkboxes(html: string): Record<string, boolean> {
  return Object.fromEntries([...html.matchAll(/name="repository_ids" value="(\d+)"( checked)?/g)].map((m) => [m[1]!, m[2] !== undefined]))
}

t.test("the app's page and the install pages need the app's slug and a signed-in user", async (t) => {
  const { b } = await simulator(t)
  const appPage = await b.get('/apps/acme-ci')
  t.equal(appPage.status, 200)
  t.match(appPage.body, '<code>repository_hooks</code>: write')
  t.match(appPage.body, `href="${NEW}"`)
  for (const url of ['/apps/other', '/apps/other/installations/new', '/apps/other/installations/new/permissions']) {
    const page = await b.get(url)
    t.equal(page.status, 404, url)
    t.match(page.body, 'There is no GitHub App with this name.')
  }
  t.equal((await b.post('/apps/other/installations/new/permissions', {})).status, 404)
  const out = await b.get(`${PERMISSIONS}?suggested_target_id=1&state=s1`)
  t.equal(out.status, 303)
  t.equal(query(out.location).get('return_to'), `${PERMISSIONS}?suggested_target_id=1&state=s1`)
  t.equal((await b.get(NEW)).status, 303)
  const postOut = await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'all' })
  t.equal(postOut.status, 303)
  t.equal(query(postOut.location).get('return_to'), NEW)
})

t.test('the chooser lists the accounts the user can install on or request for, keeping the link parameters', async (t) => {
  const { b } = await simulator(t)
  await b.signIn('mona')
  const page = await b.get(`${NEW}?state=abc&repository_ids[]=1000&repository_ids=1001`)
  t.equal(page.status, 200)
  t.match(page.body, /<strong>mona<\/strong> <span class="muted">\(your account\)<\/span>\s*· <a href="[^"]+suggested_target_id=1&amp;state=abc&amp;repository_ids%5B%5D=1000&amp;repository_ids%5B%5D=1001">Install<\/a>/)
  t.match(page.body, /<strong>acme<\/strong> <span class="muted">\(organization, you are an owner\)<\/span>\s*· <a href="[^"]+suggested_target_id=100[^"]*">Install<\/a>/)
  t.match(page.body, /<strong>widgets<\/strong> <span class="muted">\(organization, you are a member\)<\/span>\s*· <a href="[^"]+suggested_target_id=101[^"]*">Request<\/a>/)
  const plain = await b.get(NEW)
  t.match(plain.body, /suggested_target_id=1">Install/)
  for (const target of ['3', 'x', '99999']) {
    const other = await b.get(`${PERMISSIONS}?suggested_target_id=${target}`)
    t.equal(other.status, 200)
    t.match(other.body, 'Choose where to install Acme CI.', `target ${target} falls back to the chooser`)
  }
  t.match((await b.get(PERMISSIONS)).body, 'Choose where to install')
})

t.test('an owner installs on selected repositories: foreign ids are ignored, the setup URL gets the id and state', async (t) => {
  const { b, state, events } = await simulator(t)
  await b.signIn('mona')
  const page = await b.get(`${PERMISSIONS}?suggested_target_id=1&repository_ids[]=1000&repository_ids[]=1001&repository_ids[]=1100&repository_ids[]=junk&state=xyz`)
  t.equal(page.status, 200)
  t.match(page.body, '<h1>Install Acme CI</h1>')
  t.same(checkboxes(page.body), { 1000: true, 1001: true, 1002: false }, "only the account's repos, the given ones checked")
  t.match(page.body, 'value="selected" checked')
  t.notMatch(page.body, 'value="all" checked')
  t.match(page.body, 'name="state" value="xyz"')
  t.match(page.body, 'Read and write access to <code>repository_hooks</code>')
  t.match(page.body, 'Read access to <code>metadata</code>')
  t.match(page.body, '>Install</button>')
  const res = await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: ['1000', '1001', '1100'], state: 'xyz' })
  t.equal(res.status, 302)
  const q = query(res.location)
  t.match(res.location, /^http:\/\/localhost:3000\/github\/setup\?/)
  t.equal(q.get('setup_action'), 'install')
  t.equal(q.get('state'), 'xyz')
  const installation = state.installations.get(Number(q.get('installation_id')))!
  t.match(installation, { accountId: 1, repositorySelection: 'selected' })
  t.same([...installation.repositoryIds], [1000, 1001])
  t.equal(events.length, 1)
  t.match(events[0], { name: 'installation', action: 'created', installation, sender: { login: 'mona' }, requester: undefined })
})

t.test('an owner installs on all repositories of an org, with no state', async (t) => {
  const { b, state, events } = await simulator(t)
  await b.signIn('mona')
  const page = await b.get(`${PERMISSIONS}?suggested_target_id=100`)
  t.match(page.body, 'value="all" checked')
  t.same(checkboxes(page.body), { 1100: false, 1102: false, 1101: false })
  t.notMatch(page.body, 'name="state"')
  const res = await b.post(PERMISSIONS, { target_id: '100', repository_selection: 'all' })
  const q = query(res.location)
  t.same([...q.keys()], ['installation_id', 'setup_action'])
  t.equal(q.get('setup_action'), 'install')
  t.equal(state.installationOn(100)!.repositorySelection, 'all')
  t.match(events, [{ name: 'installation', action: 'created' }])
})

t.test('changing the repositories of an installation: update, with installation_repositories events', async (t) => {
  const { b, state, events } = await simulator(t)
  await b.signIn('mona')
  await b.get(`${PERMISSIONS}?suggested_target_id=1`)
  const first = query((await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: '1000' })).location)
  const id = first.get('installation_id')
  const page = await b.get(`${PERMISSIONS}?suggested_target_id=1`)
  t.match(page.body, '<h1>Configure Acme CI</h1>')
  t.match(page.body, '>Save</button>')
  t.same(checkboxes(page.body), { 1000: true, 1001: false, 1002: false }, 'a link without ids shows what is installed')
  t.match(page.body, 'value="selected" checked')
  t.same(checkboxes((await b.get(`${PERMISSIONS}?suggested_target_id=1&repository_ids[]=1002`)).body), { 1000: false, 1001: false, 1002: true }, 'ids in the link win')

  const swap = query((await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: ['1001'] })).location)
  t.equal(swap.get('setup_action'), 'update')
  t.equal(swap.get('installation_id'), id)
  t.match(events.slice(1), [
    { name: 'installation_repositories', action: 'added', added: [{ id: 1001 }], removed: [] },
    { name: 'installation_repositories', action: 'removed', added: [], removed: [{ id: 1000 }] },
  ])
  events.length = 0
  await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'all' })
  t.match(events, [{ action: 'added', added: [{ id: 1000 }, { id: 1002 }], removed: [] }])
  t.equal(state.installations.get(Number(id))!.repositorySelection, 'all')
  t.match((await b.get(`${PERMISSIONS}?suggested_target_id=1`)).body, 'value="all" checked')
  events.length = 0
  await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: ['1000', '1001', '1002'] })
  t.match(events, [{ action: 'added', added: [], removed: [] }], 'all → every repo selected: only the selection changes')
  events.length = 0
  await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: ['1000', '1001', '1002'] })
  t.same(events, [], 'no change, no event')
  await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: ['1000'] })
  t.match(events, [{ action: 'removed' }])
  t.same(events[0]!.name === 'installation_repositories' && events[0]!.removed.map((r) => r.id).sort(), [1001, 1002])
})

t.test('more than 100 repository ids get GitHub-like error text', async (t) => {
  const { b, state } = await simulator(t)
  await b.signIn('mona')
  const ok = await b.get(`${PERMISSIONS}?suggested_target_id=1&${ids(100, 1000)}`)
  t.equal(ok.status, 200, '100 is allowed')
  t.same(checkboxes(ok.body), { 1000: true, 1001: true, 1002: true })
  const page = await b.get(`${PERMISSIONS}?suggested_target_id=1&${ids(101, 1000)}`)
  t.equal(page.status, 422)
  t.match(page.body, 'Too many repositories selected (max 100)')
  const mixed = await b.get(`${PERMISSIONS}?suggested_target_id=1&${ids(60, 1000)}&${ids(41, 5000).replaceAll('[]', '')}`)
  t.equal(mixed.status, 422, 'both spellings count')
  const post = await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: Array.from({ length: 101 }, (_, i) => String(1000 + i)) })
  t.equal(post.status, 422)
  t.match(post.body, 'Too many repositories selected (max 100)')
  t.equal(state.installations.size, 0)
})

t.test('an org member who is not an owner requests; the request is recorded, nothing is installed', async (t) => {
  const { b, state, events } = await simulator(t)
  await b.signIn('hubot')
  const page = await b.get(`${PERMISSIONS}?suggested_target_id=100&repository_ids[]=1101&state=req-1`)
  t.match(page.body, '<h1>Request Acme CI</h1>')
  t.match(page.body, 'an owner must approve your request')
  t.match(page.body, '>Request</button>')
  const res = await b.post(PERMISSIONS, { target_id: '100', repository_selection: 'selected', repository_ids: ['1101'], state: 'req-1' })
  t.equal(res.status, 302)
  const q = query(res.location)
  t.same(Object.fromEntries(q), { setup_action: 'request', state: 'req-1' })
  t.equal(state.installations.size, 0)
  t.same(events, [])
  const [request] = [...state.requests.values()]
  t.match(request, { accountId: 100, requesterId: 2, repositorySelection: 'selected', repositoryIds: [1101] })
  await b.post(PERMISSIONS, { target_id: '100', repository_selection: 'all' })
  t.equal(state.requests.size, 1, 'asking again replaces the request')
  t.match([...state.requests.values()][0], { id: request!.id, repositorySelection: 'all', repositoryIds: [] })
  t.same(Object.fromEntries(query((await b.post(PERMISSIONS, { target_id: '100', repository_selection: 'all' })).location)), { setup_action: 'request' })
})

t.test('the install form refuses what GitHub would not do', async (t) => {
  const { b, state } = await simulator(t)
  await b.signIn('mona')
  await b.get(NEW)
  const cases: [Record<string, string | string[]>, number, string][] = [
    [{ target_id: '3', repository_selection: 'all' }, 404, 'You cannot install Acme CI on this account.'],
    [{ repository_selection: 'all' }, 404, 'You cannot install'],
    [{ target_id: '1', repository_selection: 'some' }, 422, 'Choose All repositories or Only select repositories.'],
    [{ target_id: '1' }, 422, 'Choose All repositories'],
    [{ target_id: '1', repository_selection: 'selected' }, 422, 'Select at least one repository'],
    [{ target_id: '1', repository_selection: 'selected', repository_ids: ['1100'] }, 422, 'Select at least one repository'],
    [{ target_id: '1', repository_selection: 'all', _csrf: 'forged' }, 403, 'Form expired'],
  ]
  for (const [form, status, text] of cases) {
    const res = await b.post(PERMISSIONS, form)
    t.equal(res.status, status, JSON.stringify(form))
    t.match(res.body, text)
  }
  t.equal(state.installations.size, 0)
})

t.test('without a setup URL, GitHub shows its own page after installing or requesting', async (t) => {
  const world = demoWorld()
  delete world.app.setup_url
  world.orgs![0]!.default_repository_permission = 'none'
  const { b } = await simulator(t, world)
  await b.signIn('octo')
  const page = await b.get(`${PERMISSIONS}?suggested_target_id=100`)
  t.same(checkboxes(page.body), { 1102: false }, 'a member with no base permission sees only the repos shared with them')
  const requested = await b.post(PERMISSIONS, { target_id: '100', repository_selection: 'selected', repository_ids: ['1102', '1100'] })
  t.equal(requested.status, 200)
  t.match(requested.body, 'Request sent')
  const installed = await b.post(PERMISSIONS, { target_id: '3', repository_selection: 'all' })
  t.equal(installed.status, 200)
  t.match(installed.body, 'Acme CI is installed')
  t.match((await b.get(`${PERMISSIONS}?suggested_target_id=3`)).body, 'No repositories.')
})
