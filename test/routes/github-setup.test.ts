import t, { type Test } from 'tap'
import { installStateKey, readState, signState } from '../../src/migration/install-state.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { installWithEvents } from '../../src/simulator/install-events.js'
import type { World } from '../../src/simulator/world.js'
import { forgedStates } from '../helpers/forged-states.js'
import { withScopes } from '../helpers/scoped-world.js'
import { TEST_SESSION_SECRET } from '../helpers/server.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'
import { codeFor, sessionCookieOf, signIn } from '../helpers/sign-in.js'
import { followSetup, formAction, installOnGitHub, press, settled, view } from '../helpers/wizard.js'

// GET /github/setup, where GitHub sends the browser back after an install, an update or a
// request: nothing in its query is believed as it comes. These tests walk it as a browser and
// GitHub would, and check what a user sees and what support finds afterwards: the batches, the
// installations recorded, the install states spent, and the audit log.

const KEY = installStateKey(TEST_SESSION_SECRET)
const MONA = 1
const OCTO = 3

/**
 * The service and GitHub, with GitHub's webhooks held back: what these tests look at is what
 * the setup callback itself does (the webhooks have tests of their own).
 */
async function quietService(t: Test, world?: World): Promise<Service> {
  const service = await serviceWithGitHub(t, world)
  delete service.sim.state.app.webhook_url
  return service
}

/** Presses the batch's button on /migrate; returns GitHub's install link it leads to. */
async function installLink(service: Service, cookie: string, label: string): Promise<string> {
  const page = await view(service.app, cookie)
  const res = await press(service.app, cookie, formAction(page.body, label))
  if (res.statusCode !== 303) throw new Error(`pressing "${label}" answered ${res.statusCode}`)
  return res.headers.location as string
}

function stateOf(link: string): string {
  return new URL(link, 'http://x').searchParams.get('state')!
}

/** The setup URL GitHub would send the browser to. */
function setupUrl(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v))
  return `/github/setup?${params.toString()}`
}

/** Everything a setup callback could change. */
async function snapshot(service: Service) {
  const db = service.tdb.db
  return {
    batches: await db.selectFrom('app.batch').select(['id', 'owner_login', 'state', 'state_reason', 'installation_id']).orderBy('id').execute(),
    installations: await db.selectFrom('app.installation').selectAll().orderBy('id').execute(),
    states: await db.selectFrom('app.install_state').select(['nonce', 'used_at']).orderBy('nonce').execute(),
    coverage: await db.selectFrom('app.batch_repo').select(['batch_id', 'repo_id', 'coverage']).orderBy(['batch_id', 'repo_id']).execute(),
  }
}

async function auditRows(service: Service) {
  return service.tdb.db.selectFrom('app.audit_event').selectAll().orderBy('id').execute()
}

async function rejections(service: Service) {
  return service.tdb.db.selectFrom('app.audit_event').selectAll().where('action', '=', 'installation_rejected').orderBy('id').execute()
}

/**
 * The refusals on record. A kind's first refusal from one client, user and owner in a minute is
 * an event with its reason; the others of that minute are counted, in app.refusal_tally until
 * the minute ends, then in one event. Returns the events that give reasons (one, or two if the
 * test ran across a minute's end) and how many refusals everything on record stands for.
 */
async function refusalsOnRecord(service: Service) {
  const events = await rejections(service)
  const pending = await service.tdb.db.selectFrom('app.refusal_tally').select('refusals').execute()
  const total = events.reduce((n, e) => n + Number(e.detail['refusals']), 0) + pending.reduce((n, row) => n + row.refusals - 1, 0)
  return { reasons: events.filter((e) => e.detail['firstEventId'] === undefined), total }
}

/** Every pattern-matching refusal is on record, and `count` refusals in all. */
async function allOnRecord(t: Test, service: Service, count: number, pattern: Record<string, unknown>) {
  const { reasons, total } = await refusalsOnRecord(service)
  t.equal(total, count, 'each refusal is on record')
  t.ok(reasons.length >= 1 && reasons.length <= 2, 'the first of each minute with its reason, the others counted')
  t.match(reasons, Array(reasons.length).fill({ ...pattern, detail: { refusals: 1 } }))
  return reasons
}

/** t.match on a list, which must also be exactly as long as the patterns. */
function exactly(t: Test, rows: unknown[], patterns: unknown[], message = 'the records'): void {
  t.equal(rows.length, patterns.length, `${message}: ${patterns.length}`)
  t.match(rows, patterns, message)
}

/** No token of any kind and not the state itself (as good as a password until spent). */
function assertNothingSecret(t: Test, rows: unknown[], ...secrets: string[]): void {
  const text = JSON.stringify(rows)
  t.notMatch(text, /gh[pousr]_[A-Za-z0-9_]{8,}/, 'no GitHub token on record')
  for (const secret of secrets) t.notOk(text.includes(secret), 'the state is not on record')
}

/** The installation GitHub sends the browser back with, installed by `login` from the link. */
function installedVia(path: string): number {
  return Number(new URL(path, 'http://x').searchParams.get('installation_id'))
}

/** Back from GitHub's authorization (as `userId`) to /auth/callback, in the session given. */
async function authorized(service: Service, cookie: string, authorize: URL, userId = MONA) {
  const code = codeFor(service.sim, authorize, userId)
  return service.app.inject({ url: `/auth/callback?code=${code}&state=${authorize.searchParams.get('state')}`, cookies: { [SESSION_COOKIE]: cookie } })
}

function signedInAs(body: string): string | undefined {
  return /Signed in as <strong>([^<]+)<\/strong>/.exec(body)?.[1]
}

t.test('no state (an org owner approving later, maybe with no session here): a confirmation page that changes nothing', async (t) => {
  const service = await quietService(t)
  const { app } = service
  const cookie = await signIn(app, service.sim, MONA)
  await view(app, cookie)
  const before = await snapshot(service)
  const events = (await auditRows(service)).length

  const anonymous = await app.inject({ url: setupUrl({ installation_id: 4242, setup_action: 'install' }) })
  t.equal(anonymous.statusCode, 200, 'never an error')
  t.match(anonymous.body, 'Installation received')
  t.match(anonymous.body, 'the GitHub App is installed')
  t.match(anonymous.body, 'href="/auth/login"', 'someone with no session here is offered to sign in')

  const update = await app.inject({ url: setupUrl({ installation_id: 4242, setup_action: 'update', state: '' }) })
  t.equal(update.statusCode, 200)
  t.match(update.body, 'Installation received')

  const request = await app.inject({ url: setupUrl({ setup_action: 'request' }), cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(request.statusCode, 200)
  t.match(request.body, 'Request sent')
  t.match(request.body, "sent the request to the organization's owners")
  t.match(request.body, 'href="/migrate"', 'a signed-in user is sent back to their migration')

  t.same(await snapshot(service), before, 'no batch, installation or state changed')
  t.equal((await auditRows(service)).length, events, 'nothing recorded')
})

t.test('a link that does not say what happened, or an install without an installation id: 400, nothing changes, the state stays usable', async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await installLink(service, cookie, 'Install on mona')
  const state = stateOf(link)
  const before = await snapshot(service)

  for (const query of [{ state }, { setup_action: 'installed', installation_id: 1, state }, { setup_action: '' }]) {
    const res = await app.inject({ url: setupUrl(query), cookies: { [SESSION_COOKIE]: cookie } })
    t.equal(res.statusCode, 400, `${JSON.stringify(query)}: 400`)
    t.match(res.body, 'this link does not say what happened on GitHub')
  }
  for (const installationId of [undefined, '', 'abc', '-3', '0', '1.5', '99999999999999999999']) {
    const query = { setup_action: 'install', state, ...(installationId === undefined ? {} : { installation_id: installationId }) }
    const res = await app.inject({ url: setupUrl(query), cookies: { [SESSION_COOKIE]: cookie } })
    t.equal(res.statusCode, 400, `installation_id ${String(installationId)}: 400`)
    t.match(res.body, 'GitHub sent no valid installation id')
  }
  t.same(await snapshot(service), before, 'nothing changed')
  await allOnRecord(t, service, 7, { actor_login: 'mona', owner_login: 'mona', installation_id: null, outcome: 'rejected', reason: /no valid installation id/ })

  // The state was not spent by any of that: the real return from GitHub still works.
  const back = await followSetup(app, sim, cookie, installOnGitHub(sim, link, 'mona'), MONA)
  t.equal(back.statusCode, 302)
  t.equal(back.headers.location, '/migrate#owner-mona')
})

t.test('a forged state (tampered signature or content, garbage, another key) is refused: 400, audited, nothing changes', async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await installLink(service, cookie, 'Install on mona')
  const state = stateOf(link)
  const [body, signature] = state.split('.') as [string, string]
  const installationId = installedVia(installOnGitHub(sim, link, 'mona'))
  const before = await snapshot(service)
  const forgeries = forgedStates(state, OCTO)
  for (const [what, forged] of Object.entries(forgeries)) {
    const res = await followSetup(app, sim, cookie, setupUrl({ installation_id: installationId, setup_action: 'install', state: forged }), MONA)
    t.equal(res.statusCode, 400, `${what}: 400`)
    t.match(res.body, 'This installation link was not made by this service', `${what}: says why`)
  }
  const twice = await followSetup(app, sim, cookie, `${setupUrl({ installation_id: installationId, setup_action: 'install', state })}&state=${state}`, MONA)
  t.equal(twice.statusCode, 400, 'the real state twice: 400')
  t.match(twice.body, 'This installation link was not made by this service')
  t.same(await snapshot(service), before, 'no batch, installation or state changed')
  const rejected = await allOnRecord(t, service, Object.keys(forgeries).length + 1, { actor_kind: 'user', actor_login: 'mona', owner_id: null, installation_id: installationId, outcome: 'rejected', reason: /not made by this service/, request_id: String })
  assertNothingSecret(t, [...rejected, ...(await service.tdb.db.selectFrom('app.refusal_tally').selectAll().execute())], state, signature)

  // Tampering spent nothing: the state GitHub really sent back still works.
  const back = await followSetup(app, sim, cookie, installOnGitHub(sim, link, 'mona'), MONA)
  t.equal(back.headers.location, '/migrate#owner-mona')
})

t.test('an expired state: 400 with the reason, audited, nothing changes', async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await installLink(service, cookie, 'Install on mona')
  const read = readState(KEY, stateOf(link))
  if (!read.ok) throw new Error('the link carries no valid state')
  // The same state as this service would have signed it an hour ago, now past its expiry.
  const expired = signState(KEY, { ...read.payload, expiresAt: Date.now() - 1000 })
  const setupPath = installOnGitHub(sim, link, 'mona')
  const before = await snapshot(service)

  const res = await followSetup(app, sim, undefined, setupPath.replace(/state=[^&]+/, `state=${expired}`), MONA)
  t.equal(res.statusCode, 400)
  t.match(res.body, 'This installation link has expired. Start again from your migration page.')
  t.same(await snapshot(service), before, 'nothing changed')
  const rejected = await rejections(service)
  exactly(t, rejected, [{ actor_github_id: null, actor_login: null, outcome: 'rejected', reason: /has expired/, installation_id: installedVia(setupPath) }])
  assertNothingSecret(t, rejected, expired)
})

t.test('a replayed state: the second use gets 409 and changes nothing; a reload of the same install lands where the first did', async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await installLink(service, cookie, 'Install on mona')
  const setupPath = installOnGitHub(sim, link, 'mona')
  const first = await followSetup(app, sim, cookie, setupPath, MONA)
  t.equal(first.statusCode, 302)
  t.equal(first.headers.location, '/migrate#owner-mona')
  // The coverage check it asked for has run.
  await settled(service)
  const installed = await snapshot(service)
  t.match(installed.batches.find((b) => b.owner_login === 'mona'), { state: 'installed', installation_id: installedVia(setupPath) })

  // The same state with another installation id (mona's acme installation, which she can reach).
  const acme = installWithEvents(sim.state, 100, 'all', [], sim.state.userByLogin('mona')!).installation
  const replay = setupPath.replace(/installation_id=\d+/, `installation_id=${acme.id}`)
  for (const cookies of [cookie, undefined]) {
    const res = await followSetup(app, sim, cookies, replay, MONA)
    t.equal(res.statusCode, 409, `replayed ${cookies === undefined ? 'without' : 'with'} a session: 409`)
    t.match(res.body, 'This installation link was already used. Your migration page shows where things stand.')
  }
  t.same(await snapshot(service), installed, 'nothing changed, no installation recorded for acme')
  exactly(t, await rejections(service), [
    { actor_login: 'mona', owner_login: 'mona', installation_id: acme.id, reason: /already used/ },
    { actor_login: null, owner_login: 'mona', installation_id: acme.id, reason: /already used/ },
  ])

  // The browser's reload (or the back button) of the page GitHub sent it to: no error, no second record.
  const reload = await followSetup(app, sim, cookie, setupPath, MONA)
  t.equal(reload.statusCode, 302)
  t.equal(reload.headers.location, '/migrate#owner-mona')
  await settled(service)
  t.same(await snapshot(service), installed, 'nothing done twice')
  const actions = (await auditRows(service)).map((e) => e.action)
  t.equal(actions.filter((a) => a === 'installation_verified').length, 1, 'one verification on record')
  t.equal(actions.filter((a) => a === 'coverage_checked').length, 1, 'coverage checked once')

  // A reload by someone else (a copied URL) is still told apart on GitHub.
  const stranger = await followSetup(app, sim, undefined, setupPath, OCTO)
  t.equal(stranger.statusCode, 403)
  t.match(stranger.body, 'You are signed in on GitHub as octo, but this installation was started by another account.')
})

t.test('two tabs: two completions of the same setup both land, one is on record', async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await installLink(service, cookie, 'Install on mona')
  const setupPath = installOnGitHub(sim, link, 'mona')
  // Two browsers of mona's (each its own session), both back from GitHub at once.
  const other = await signIn(app, sim, MONA)
  const results = await Promise.all([followSetup(app, sim, cookie, setupPath, MONA), followSetup(app, sim, other, setupPath, MONA)])
  for (const res of results) {
    t.equal(res.statusCode, 302)
    t.equal(res.headers.location, '/migrate#owner-mona')
  }
  for (const c of [cookie, other]) t.equal(signedInAs((await view(app, c)).body), 'mona', 'both still signed in as mona')
  const events = await auditRows(service)
  t.equal(events.filter((e) => e.action === 'installation_verified').length, 1, 'exactly one installation_verified')
  t.equal(events.filter((e) => e.action === 'installation_rejected').length, 0, 'and no refusal')
  t.match((await snapshot(service)).batches.find((b) => b.owner_login === 'mona'), { state: 'installed', installation_id: installedVia(setupPath) })
})

t.test('two tabs of one session, installing on two owners: both callbacks complete, in either order', async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  // Both links pressed and both installs done on GitHub before either tab is back.
  const setups = [installOnGitHub(sim, await installLink(service, cookie, 'Install on mona'), 'mona'), installOnGitHub(sim, await installLink(service, cookie, 'Install or ask the owners of acme on GitHub'), 'mona')]
  // Each tab's setup callback sends the browser through GitHub's authorization...
  const authorizations: URL[] = []
  for (const path of setups) {
    const res = await app.inject({ url: path, cookies: { [SESSION_COOKIE]: cookie } })
    t.equal(res.statusCode, 302)
    authorizations.push(new URL(res.headers.location as string))
  }
  // ... and they come back the other way round: the second tab first.
  for (const [i, owner] of [[1, 'acme'], [0, 'mona']] as const) {
    const authorize = authorizations[i]!
    const back = await authorized(service, cookie, authorize)
    t.equal(back.statusCode, 302, `${owner}: verified`)
    t.equal(back.headers.location, `/migrate#owner-${owner}`)
  }
  const batches = (await snapshot(service)).batches
  t.match(batches.find((b) => b.owner_login === 'mona'), { state: 'installed', installation_id: installedVia(setups[0]!) })
  t.match(batches.find((b) => b.owner_login === 'acme'), { state: 'installed', installation_id: installedVia(setups[1]!) })
  const events = await auditRows(service)
  t.match(
    events.filter((e) => e.action === 'installation_verified').map((e) => e.owner_login),
    ['acme', 'mona'],
  )
  t.equal(events.filter((e) => e.action === 'installation_rejected').length, 0, 'no refusal')
  t.equal(signedInAs((await view(app, cookie)).body), 'mona', 'still signed in as mona, in the same session')

  // Each authorization is still one-time.
  t.equal((await authorized(service, cookie, authorizations[0]!)).statusCode, 400)
})

t.test('a session keeps the newest five authorizations under way', async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const setupPath = installOnGitHub(sim, await installLink(service, cookie, 'Install on mona'), 'mona')
  // The same page loaded six times (six tabs, or reloads) before any comes back.
  const authorizations: URL[] = []
  for (let i = 0; i < 6; i++) authorizations.push(new URL((await app.inject({ url: setupPath, cookies: { [SESSION_COOKIE]: cookie } })).headers.location as string))
  t.equal((await authorized(service, cookie, authorizations[0]!)).statusCode, 400, 'the oldest gave way')
  for (const authorize of authorizations.slice(1)) t.equal((await authorized(service, cookie, authorize)).statusCode, 302, 'the newest five complete')
})

t.test("a foreign installation id (one mona cannot reach, or on another owner than the state's) gets 403 and nothing is recorded", async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await installLink(service, cookie, 'Install on mona')
  const setupPath = installOnGitHub(sim, link, 'mona')
  const octo = sim.state.userByLogin('octo')!
  // octo's own account: mona cannot reach it at all.
  const octos = installWithEvents(sim.state, OCTO, 'all', [], octo).installation
  // widgets, installed by its owner octo: mona, a member, can see it, but the state is for mona.
  const widgets = installWithEvents(sim.state, 101, 'all', [], octo).installation
  const before = await snapshot(service)

  const foreign = await followSetup(app, sim, cookie, setupPath.replace(/installation_id=\d+/, `installation_id=${octos.id}`), MONA)
  t.equal(foreign.statusCode, 403)
  t.match(foreign.body, `GitHub does not list installation ${octos.id} among the installations you can reach.`)
  const elsewhere = await followSetup(app, sim, cookie, setupPath.replace(/installation_id=\d+/, `installation_id=${widgets.id}`), MONA)
  t.equal(elsewhere.statusCode, 403)
  t.match(elsewhere.body, `Installation ${widgets.id} is on widgets, not on mona.`)

  t.same(await snapshot(service), before, 'no installation recorded, no batch changed, the state not spent')
  t.same(await service.tdb.db.selectFrom('app.installation').selectAll().execute(), [])
  const rejected = await rejections(service)
  exactly(t, rejected, [
    { actor_kind: 'user', actor_github_id: MONA, actor_login: 'mona', owner_id: MONA, owner_login: 'mona', installation_id: octos.id, outcome: 'rejected', reason: /does not list/ },
    { actor_login: 'mona', owner_login: 'mona', installation_id: widgets.id, outcome: 'rejected', reason: /is on widgets, not on mona/ },
  ])
  assertNothingSecret(t, rejected, stateOf(link))
  t.equal(signedInAs((await view(app, cookie)).body), 'mona', 'mona is still signed in')

  // The state is still good for the installation GitHub really made for mona.
  const back = await followSetup(app, sim, cookie, setupPath, MONA)
  t.equal(back.headers.location, '/migrate#owner-mona')
})

t.test("signed in on GitHub as someone else than the state's user: 403, and the session here is not switched", async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await installLink(service, cookie, 'Install on mona')
  const setupPath = installOnGitHub(sim, link, 'mona')
  const before = await snapshot(service)

  const asOcto = await followSetup(app, sim, cookie, setupPath, OCTO)
  t.equal(asOcto.statusCode, 403)
  t.match(asOcto.body, 'You are signed in on GitHub as octo, but this installation was started by another account.')
  t.ok([undefined, cookie].includes(sessionCookieOf(asOcto)), 'the session id does not change')
  t.equal(signedInAs((await view(app, cookie)).body), 'mona', 'still signed in here as mona')

  // With no session here at all: octo is not signed in by it either.
  const fresh = sessionCookieOf(await app.inject({ url: setupPath }))!
  const anonymous = await followSetup(app, sim, fresh, setupPath, OCTO)
  t.equal(anonymous.statusCode, 403)
  t.ok([undefined, fresh].includes(sessionCookieOf(anonymous)), 'the session id does not change')
  t.equal(signedInAs((await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: fresh } })).body), undefined, 'nobody signed in')

  t.same(await snapshot(service), before, 'nothing changed')
  const rejected = await allOnRecord(t, service, 2, { actor_github_id: OCTO, actor_login: 'octo', owner_login: 'mona', installation_id: installedVia(setupPath), reason: /signed in on GitHub as octo/ })
  assertNothingSecret(t, rejected, stateOf(link))
  t.notOk((await auditRows(service)).some((e) => e.action === 'sign_in' && e.actor_login === 'octo'), 'octo was never signed in')
})

t.test("signed in here as another user than the state's: 403 before GitHub is asked, nothing changes", async (t) => {
  const service = await quietService(t)
  const { app, sim } = service
  const mona = await signIn(app, sim, MONA)
  const link = await installLink(service, mona, 'Install on mona')
  const setupPath = installOnGitHub(sim, link, 'mona')
  const octo = await signIn(app, sim, OCTO)
  const before = await snapshot(service)

  const res = await app.inject({ url: setupPath, cookies: { [SESSION_COOKIE]: octo } })
  t.equal(res.statusCode, 403)
  t.match(res.body, 'You are signed in as octo, but this installation was started by another account. Sign out, and sign in as that account.')
  t.equal(signedInAs((await app.inject({ url: '/', cookies: { [SESSION_COOKIE]: octo } })).body), 'octo', 'octo stays octo')
  t.same(await snapshot(service), before)
  exactly(t, await rejections(service), [{ actor_github_id: OCTO, actor_login: 'octo', owner_login: 'mona', reason: /signed in as octo/ }])

  // mona herself, in her own browser, is not affected.
  t.equal((await followSetup(app, sim, mona, setupPath, MONA)).headers.location, '/migrate#owner-mona')
})

t.test('a state whose batch was planned away: 409, whether on the way to GitHub or on the way back', async (t) => {
  const service = await quietService(t)
  const { app, sim, tdb } = service
  const cookie = await signIn(app, sim, MONA)
  const setupPath = installOnGitHub(sim, await installLink(service, cookie, 'Install on mona'), 'mona')
  // Her token cannot read her role in acme: GitHub's install page offers what it allows (an owner installs).
  const toAcme = await installLink(service, cookie, 'Install or ask the owners of acme on GitHub')
  // What planning again does to an owner the user no longer has anything with (savePlan):
  // the batch goes, and its install states with it.
  const planAway = (ownerId: number) => tdb.db.deleteFrom('app.batch').where('owner_id', '=', ownerId).where('user_id', '=', MONA).execute()

  await planAway(MONA)
  const before = await snapshot(service)
  const res = await followSetup(app, sim, cookie, setupPath, MONA)
  t.equal(res.statusCode, 409)
  t.match(res.body, 'This installation link belongs to a plan that was made again since.')
  t.same(await snapshot(service), before, 'nothing recorded')

  // Planned away while the browser was on GitHub's authorization page.
  const acmeSetup = installOnGitHub(sim, toAcme, 'mona')
  const toGitHub = await app.inject({ url: acmeSetup, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(toGitHub.statusCode, 302, 'sent to GitHub to learn who the user is')
  await planAway(100)
  const between = await snapshot(service)
  const authorize = new URL(toGitHub.headers.location as string)
  const code = 'code-planned-away'
  sim.state.codes.set(code, { clientId: authorize.searchParams.get('client_id')!, userId: MONA, redirectUri: authorize.searchParams.get('redirect_uri')!, codeChallenge: authorize.searchParams.get('code_challenge')!, expiresAt: new Date(Date.now() + 60_000) })
  const back = await app.inject({ url: `/auth/callback?code=${code}&state=${authorize.searchParams.get('state')}`, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(back.statusCode, 409)
  t.match(back.body, 'belongs to a plan that was made again since')
  t.same(await snapshot(service), between, 'nothing recorded')
  t.same(await tdb.db.selectFrom('app.installation').selectAll().execute(), [])
  exactly(t, await rejections(service), [
    { owner_id: MONA, owner_login: null, actor_login: 'mona', installation_id: installedVia(setupPath), reason: /made again since/ },
    { owner_id: 100, owner_login: null, actor_login: 'mona', installation_id: installedVia(acmeSetup), reason: /made again since/ },
  ])
})

t.test('the request flow: recorded as waiting with a session, a 401 page without one, 409 when replayed', async (t) => {
  // A member's request, its approvers named: mona's token holds read:org, so GitHub tells her
  // role in widgets and its owners.
  const service = await quietService(t, withScopes({ mona: ['read:org'] }))
  const { app, sim, tdb } = service
  const cookie = await signIn(app, sim, MONA)
  const setupPath = installOnGitHub(sim, await installLink(service, cookie, 'Ask the owners of widgets'), 'mona')
  t.match(setupPath, 'setup_action=request')
  t.notMatch(setupPath, 'installation_id', 'GitHub sends no installation id for a request')
  const before = await snapshot(service)

  const signedOut = await app.inject({ url: setupPath })
  t.equal(signedOut.statusCode, 401)
  t.match(signedOut.body, 'Your session has ended. Sign in again: your migration page shows whether your request reached GitHub.')
  t.same(await snapshot(service), before, 'nothing changed, the state not spent')

  const res = await app.inject({ url: setupPath, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/migrate#owner-widgets')
  const widgets = (await snapshot(service)).batches.find((b) => b.owner_login === 'widgets')
  t.match(widgets, { state: 'request_pending', installation_id: null })
  const page = (await view(app, cookie)).body
  t.match(page, 'Waiting for approval')
  t.match(page, 'Who can approve it on GitHub: <strong>octo</strong>', 'who can approve, by name')

  const pending = await snapshot(service)
  const replay = await app.inject({ url: setupPath, cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(replay.statusCode, 409)
  t.match(replay.body, 'This installation link was already used.')
  t.same(await snapshot(service), pending)

  const events = await tdb.db.selectFrom('app.audit_event').selectAll().where('action', 'in', ['request_pending', 'installation_rejected']).orderBy('id').execute()
  exactly(t, events, [
    { action: 'installation_rejected', actor_login: null, owner_login: 'widgets', outcome: 'rejected', reason: /session has ended/ },
    { action: 'request_pending', actor_login: 'mona', owner_id: 101, owner_login: 'widgets', outcome: 'ok', reason: 'waiting for an owner of widgets to approve' },
    { action: 'installation_rejected', actor_login: 'mona', owner_login: 'widgets', outcome: 'rejected', reason: /already used/ },
  ])
  assertNothingSecret(t, events, stateOf(setupPath))
})
