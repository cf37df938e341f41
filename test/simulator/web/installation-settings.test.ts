import t, { type Test } from 'tap'
import { sharedKeyPair } from '../../helpers/keys.js'
import { buildSimulator } from '../../../src/simulator/server.js'
import type { SimEvent } from '../../../src/simulator/state.js'
import type { World } from '../../../src/simulator/world.js'
import { demoWorld } from '../../helpers/simulator.js'
import { Browser, query } from './browser.js'

// GitHub's installation settings pages: the owner changes which repositories an installation
// covers, the same webhooks go out, and the browser goes back to the app's setup URL.

const MONA = '/settings/installations/7000'
const ACME = '/organizations/acme/settings/installations/7001'

function world(): World {
  const w = demoWorld()
  w.installations = [
    { id: 7000, account: 'mona', repository_selection: 'selected', repositories: [1000] },
    { id: 7001, account: 'acme', repository_selection: 'all' },
    { id: 7002, account: 'widgets', repository_selection: 'all' },
  ]
  return w
}

async function simulator(t: Test, w: World = world()) {
  const sim = await buildSimulator({ world: w, logLevel: 'silent', madeKeyPair: sharedKeyPair() })
  t.teardown(() => sim.app.close())
  const events: SimEvent[] = []
  sim.state.onEvent = (event) => events.push(event)
  return { b: new Browser(sim.app), state: sim.state, events }
}

/** Checkbox ids and whether each is checked. */
function checkboxes(html: string): Record<string, boolean> {
  return Object.fromEntries([...html.matchAll(/name="repository_ids" value="(\d+)"( checked)?/g)].map((m) => [m[1]!, m[2] !== undefined]))
}

t.test('a signed-out visitor signs in first and comes back to the page', async (t) => {
  const { b } = await simulator(t)
  for (const url of [`${MONA}?repository_ids[]=1001`, ACME]) {
    const page = await b.get(url)
    t.equal(page.status, 303, url)
    t.equal(query(page.location).get('return_to'), url)
  }
  const post = await b.post(MONA, { repository_selection: 'all' })
  t.equal(post.status, 303)
  t.equal(query(post.location).get('return_to'), MONA)
})

t.test("the user's own installation: shows what it covers, Save changes it and goes to the setup URL", async (t) => {
  const { b, state, events } = await simulator(t)
  await b.signIn('mona')
  const page = await b.get(MONA)
  t.equal(page.status, 200)
  t.match(page.body, '<h1>Acme CI</h1>')
  t.match(page.body, 'Installed on <strong>mona</strong>')
  t.match(page.body, `<form method="post" action="${MONA}">`)
  t.match(page.body, 'value="selected" checked')
  t.notMatch(page.body, 'value="all" checked')
  t.same(checkboxes(page.body), { 1000: true, 1002: false, 1001: false }, "every repository of the account, the covered one checked")
  t.notMatch(page.body, 'class="notice"')
  t.match(page.body, '>Save</button>')

  const res = await b.post(MONA, { repository_selection: 'selected', repository_ids: ['1000', '1001', '1100'] })
  t.equal(res.status, 302)
  t.match(res.location, /^http:\/\/localhost:3000\/github\/setup\?/)
  t.same(Object.fromEntries(query(res.location)), { installation_id: '7000', setup_action: 'update' }, 'no state')
  t.same([...state.installations.get(7000)!.repositoryIds].sort(), [1000, 1001], "another account's repository is ignored")
  t.match(events, [{ name: 'installation_repositories', action: 'added', added: [{ id: 1001 }], removed: [], sender: { login: 'mona' } }])
  t.equal(events.length, 1)

  events.length = 0
  await b.post(MONA, { repository_selection: 'selected', repository_ids: ['1001'] })
  t.match(events, [{ name: 'installation_repositories', action: 'removed', removed: [{ id: 1000 }] }])
  t.same(checkboxes((await b.get(MONA)).body), { 1000: false, 1002: false, 1001: true })
})

t.test('repository_ids[] in the link ticks the repositories to add and names them', async (t) => {
  const { b, events } = await simulator(t)
  await b.signIn('mona')
  const page = await b.get(`${MONA}?repository_ids[]=1001&repository_ids[]=1002&repository_ids[]=1000&repository_ids[]=1100`)
  t.equal(page.status, 200)
  t.same(checkboxes(page.body), { 1000: true, 1002: true, 1001: true })
  t.match(page.body, 'value="selected" checked')
  t.match(page.body, /class="notice">To add: <strong>mona\/new-name, mona\/site<\/strong>/, 'only the repositories not covered yet, of this account')
  t.same(events, [], 'showing the page changes nothing')
  t.same(checkboxes((await b.get(`${MONA}?repository_ids=1002`)).body), { 1000: true, 1002: true, 1001: false }, 'without brackets too')
  t.notMatch((await b.get(`${MONA}?repository_ids[]=1000&repository_ids[]=1100`)).body, 'class="notice"', 'nothing to add, no notice')
  const tooMany = await b.get(`${MONA}?${Array.from({ length: 101 }, (_, i) => `repository_ids[]=${1000 + i}`).join('&')}`)
  t.equal(tooMany.status, 422)
  t.match(tooMany.body, 'Too many repositories selected (max 100)')
})

t.test("an org's installation: its owners only; everyone else gets a 404", async (t) => {
  const { b, state, events } = await simulator(t)
  await b.signIn('mona')
  const page = await b.get(`${ACME}?repository_ids[]=1101`)
  t.equal(page.status, 200)
  t.match(page.body, 'Installed on <strong>acme</strong> <span class="muted">(organization)')
  t.match(page.body, 'value="all" checked')
  t.same(checkboxes(page.body), { 1100: true, 1102: true, 1101: true }, 'all repositories: every box checked')
  t.notMatch(page.body, 'class="notice"', 'all repositories already covers the link')
  t.equal((await b.get('/organizations/ACME/settings/installations/7001')).status, 200, 'the login in any case')

  const notFound = [
    '/settings/installations/7001', // an org's installation under the user's settings
    '/settings/installations/7002',
    '/settings/installations/4242',
    '/settings/installations/x',
    '/organizations/acme/settings/installations/7000', // mona's own, under the org
    '/organizations/acme/settings/installations/7002',
    '/organizations/mona/settings/installations/7000', // a user is not an organization
    '/organizations/nobody/settings/installations/7001',
    '/organizations/widgets/settings/installations/7002', // a member, not an owner
  ]
  for (const url of notFound) {
    const res = await b.get(url)
    t.equal(res.status, 404, url)
    t.match(res.body, 'This page does not exist, or you are not allowed to see it.')
  }
  await b.signIn('hubot')
  t.equal((await b.get(ACME)).status, 404, 'an org member')
  t.equal((await b.get(MONA)).status, 404, "another user's installation")
  t.equal((await b.post(ACME, { repository_selection: 'selected', repository_ids: ['1100'] })).status, 404)
  t.equal(state.installations.get(7001)!.repositorySelection, 'all')
  t.same(events, [])

  await b.signIn('mona')
  await b.get(ACME)
  const res = await b.post(ACME, { repository_selection: 'selected', repository_ids: ['1100'] })
  t.same(Object.fromEntries(query(res.location)), { installation_id: '7001', setup_action: 'update' })
  t.match(events, [{ name: 'installation_repositories', action: 'removed', removed: [{ id: 1101 }, { id: 1102 }], sender: { login: 'mona' } }])
})

t.test('the form refuses what GitHub would not save', async (t) => {
  const { b, state, events } = await simulator(t)
  await b.signIn('mona')
  await b.get(MONA)
  const cases: [Record<string, string | string[]>, number, string][] = [
    [{ repository_selection: 'some' }, 422, 'Choose All repositories or Only select repositories.'],
    [{}, 422, 'Choose All repositories'],
    [{ repository_selection: 'selected' }, 422, 'Select at least one repository'],
    [{ repository_selection: 'selected', repository_ids: ['1100'] }, 422, 'Select at least one repository'],
    [{ repository_selection: 'selected', repository_ids: Array.from({ length: 101 }, (_, i) => String(1000 + i)) }, 422, 'Too many repositories selected (max 100)'],
    [{ repository_selection: 'all', _csrf: 'forged' }, 403, 'Form expired'],
  ]
  for (const [form, status, text] of cases) {
    const res = await b.post(MONA, form)
    t.equal(res.status, status, JSON.stringify(form).slice(0, 80))
    t.match(res.body, text)
  }
  t.equal((await b.post('/settings/installations/4242', { repository_selection: 'all' })).status, 404)
  t.same([...state.installations.get(7000)!.repositoryIds], [1000])
  t.same(events, [])
})

t.test('without a setup URL, Save shows a Saved page', async (t) => {
  const w = world()
  delete w.app.setup_url
  const { b, state, events } = await simulator(t, w)
  await b.signIn('mona')
  await b.get(MONA)
  const res = await b.post(MONA, { repository_selection: 'all' })
  t.equal(res.status, 200)
  t.match(res.body, '<h1>Saved</h1>')
  t.match(res.body, 'on <strong>mona</strong> are updated')
  t.equal(state.installations.get(7000)!.repositorySelection, 'all')
  t.match(events, [{ action: 'added', added: [{ id: 1001 }, { id: 1002 }] }])
})
