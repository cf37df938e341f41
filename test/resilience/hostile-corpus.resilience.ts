import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { DEMO_STAFF } from '../../src/demo.js'
import { installStateKey, readState, signState } from '../../src/migration/install-state.js'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { signature, webhookPayload } from '../../src/simulator/delivery.js'
import { installWithEvents } from '../../src/simulator/install-events.js'
import { forgedStates } from '../helpers/forged-states.js'
import { changed, databaseDigest, githubDigest, table } from '../helpers/resilience.js'
import { TEST_SESSION_SECRET } from '../helpers/server.js'
import { serviceWithGitHub, TEST_RECEIVER_SECRET } from '../helpers/service.js'
import { MONA, OLGA, SAM } from '../helpers/staff.js'
import { sessionCookieOf, signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { csrfOf, followSetup, formAction, installOnGitHub, press, settled, view } from '../helpers/wizard.js'

// The hostile corpus (issue 12): requests a stranger, a curious user or a replaying attacker
// could send, generated from a table of cases. Each must be answered with a clear 4xx and
// change nothing: every app.* table that holds migration state, pg-boss's jobs, and GitHub's
// side as /_sim/state shows it, checked after every request. Refusals may be audited, and
// nothing else. One answer is a 2xx: GitHub's own redelivery of a delivery already taken,
// which GitHub must see succeed, and which changes nothing either.

const OCTO = 3
const KEY = installStateKey(TEST_SESSION_SECRET)
const WEBHOOK_SECRET = 'sim-webhook-secret'

/** The tricks every field gets. */
const TRICKS: Record<string, string> = {
  sql: "1' OR '1'='1'; DROP TABLE app.batch; --",
  html: '"><script>alert(1)</script><img src=x onerror=alert(1)>',
  crlf: 'x\r\nSet-Cookie: owned=1\r\nLocation: https://evil.example/',
  unicode: 'ｍｏｎａ\u202e\u0000\u200d１２３',
}

interface Case {
  kind: string
  name: string
  /** The answer expected: a 4xx, but for GitHub's own redelivery (the same X-GitHub-Delivery), the 200 it must get. */
  status: number
  /** What the answer must say, so the person (or GitHub's delivery log) knows why. */
  message: RegExp
  send: () => Promise<LightMyRequestResponse>
}

t.test('the hostile corpus: every request a clear 4xx, nothing changed', async (t) => {
  const started = Date.now()
  // One client sends the whole corpus: the per-client limit on sign-in and the setup callback
  // (tested on its own) would answer most of it 429 before the checks under test are reached.
  const service = await serviceWithGitHub(t, demoWorld(), { staff: DEMO_STAFF, rateLimitPerMinute: 1_000_000 })
  const { app, sim, tdb } = service
  // GitHub's own webhooks are held back: the corpus sends the deliveries it means to.
  delete sim.state.app.webhook_url

  const cookies = (cookie: string | undefined): Record<string, string> => (cookie === undefined ? {} : { [SESSION_COOKIE]: cookie })
  const get = (url: string, cookie?: string) => app.inject({ url, cookies: cookies(cookie) })
  const post = (url: string, cookie: string | undefined, payload: Record<string, string | string[]> = {}) => app.inject({ method: 'POST', url, cookies: cookies(cookie), payload })

  // The world before the corpus: mona has installed on her account through the wizard (a spent
  // state), holds an install link for acme she has not used, and octo has planned too.
  const mona = await signIn(app, sim, MONA)
  const installLink = async (cookie: string, label: string): Promise<string> => {
    const res = await press(app, cookie, formAction((await view(app, cookie)).body, label))
    if (res.statusCode !== 303) throw new Error(`pressing "${label}" answered ${res.statusCode}`)
    return res.headers.location as string
  }
  const monaSetup = installOnGitHub(sim, await installLink(mona, 'Install on mona'), 'mona')
  if ((await followSetup(app, sim, mona, monaSetup, MONA)).statusCode !== 302) throw new Error('mona could not install')
  await settled(service)
  const acmeLink = await installLink(mona, 'Install or ask the owners of acme on GitHub')
  const acmeSetup = installOnGitHub(sim, acmeLink, 'mona')
  const acmeState = new URL(acmeLink).searchParams.get('state')!
  const monaInstallation = Number(new URL(monaSetup, 'http://x').searchParams.get('installation_id'))
  const acmeInstallation = Number(new URL(acmeSetup, 'http://x').searchParams.get('installation_id'))
  const octo = await signIn(app, sim, OCTO)
  await view(app, octo)
  const octoUser = sim.state.userByLogin('octo')!
  const octosOwn = installWithEvents(sim.state, OCTO, 'all', [], octoUser).installation
  const widgets = installWithEvents(sim.state, 101, 'all', [], octoUser).installation
  const readers = { mona, sam: await signIn(app, sim, SAM), olga: await signIn(app, sim, OLGA) }
  // Staff land on the console at sign-in, which keeps their login for their account.
  for (const staff of [readers.sam, readers.olga]) if ((await get('/staff', staff)).statusCode !== 200) throw new Error('a staff member was refused the console')
  const monaAgain = await signIn(app, sim, MONA)
  await settled(service)
  const csrf = csrfOf((await view(app, mona)).body)
  const otherCsrf = csrfOf((await view(app, monaAgain)).body)
  const batches = await tdb.db.selectFrom('app.batch').select(['id', 'user_id', 'owner_login']).orderBy('id').execute()
  const acmeBatch = batches.find((b) => b.user_id === MONA && b.owner_login === 'acme')!.id
  const octoBatch = batches.find((b) => b.user_id === OCTO)!.id

  // A delivery as GitHub sends it, signed, taken before the corpus: the one its replays copy.
  const monaUser = sim.state.userByLogin('mona')!
  const installation = sim.state.installations.get(monaInstallation)!
  const captured = JSON.stringify(webhookPayload(sim.state, { name: 'installation', action: 'suspend', installation, sender: monaUser }, sim.url))
  const capturedId = randomUUID()
  const hook = (body: string, headers: Record<string, string | undefined>) =>
    app.inject({
      method: 'POST',
      url: '/github/webhooks',
      headers: Object.fromEntries(Object.entries({ 'content-type': 'application/json', 'x-github-event': 'installation', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature('sha256', WEBHOOK_SECRET, body), ...headers }).filter(([, v]) => v !== undefined)) as Record<string, string>,
      payload: body,
    })
  if ((await hook(captured, { 'x-github-delivery': capturedId })).statusCode !== 202) throw new Error('the captured delivery was not taken')
  await settled(service)

  const setupUrl = (query: Record<string, string | number | (string | number)[]>) => {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) for (const one of [v].flat()) params.append(k, String(one))
    return `/github/setup?${params.toString()}`
  }
  /** A sign-in under way in a session of its own: the session, and the state GitHub will send back. */
  const signInUnderWay = async () => {
    const res = await get('/auth/login')
    return { cookie: sessionCookieOf(res)!, state: new URL(res.headers.location as string).searchParams.get('state')! }
  }
  /** The legacy receiver's question (null: without the secret). */
  const legacy = (hookId: string, authorization: string | null = `Bearer ${TEST_RECEIVER_SECRET}`) =>
    app.inject({ url: `/legacy/hooks/${encodeURIComponent(hookId)}`, headers: authorization === null ? {} : { authorization } })

  const NOT_OURS = /This installation link was not made by this service/
  const NO_ACTION = /this link does not say what happened on GitHub/
  const NO_ID = /GitHub sent no valid installation id/
  const SIGN_IN_SPENT = /This sign-in link has expired or was already used, or was started in another browser/
  const NO_STEP = /There is no such step in your migration/
  const NO_PAGE = /There is no page at this address\./
  const CSRF = /This form was not sent from a page of this service, or your session ended since the page was loaded/
  const BAD_SIGNATURE = /signature is missing or does not match/

  const cases: Case[] = []
  const add = (kind: string, name: string, status: number, message: RegExp, send: () => Promise<LightMyRequestResponse>) => cases.push({ kind, name, status, message, send })

  // Forged, expired, replayed and cross-user `state`, on the setup callback and on sign-in.
  const forged = forgedStates(acmeState, OCTO)
  const body = acmeState.split('.')[0]!
  for (const [what, state] of Object.entries(forged)) {
    add('forged state', `setup: ${what}`, 400, NOT_OURS, () => followSetup(app, sim, mona, setupUrl({ installation_id: acmeInstallation, setup_action: 'install', state }), MONA))
  }
  const read = readState(KEY, acmeState)
  if (!read.ok) throw new Error('the acme link carries no valid state')
  add('forged state', 'setup: a state past its expiry', 400, /This installation link has expired/, () =>
    followSetup(app, sim, mona, setupUrl({ installation_id: acmeInstallation, setup_action: 'install', state: signState(KEY, { ...read.payload, expiresAt: Date.now() - 1000 }) }), MONA),
  )
  const spent = monaSetup.replace(/installation_id=\d+/, `installation_id=${acmeInstallation}`)
  add('replayed state', "setup: mona's spent state, another installation, her session", 409, /already used/, () => followSetup(app, sim, mona, spent, MONA))
  add('replayed state', "setup: mona's spent state, another installation, no session", 409, /already used/, () => followSetup(app, sim, undefined, spent, MONA))
  add('replayed state', "setup: mona's spent state as a request", 409, /already used/, () => get(monaSetup.replace(/installation_id=\d+&/, '').replace('setup_action=install', 'setup_action=request'), mona))
  add('cross-user state', "setup: mona's acme link, octo's session here", 403, /You are signed in as octo, but this installation was started by another account/, () => get(acmeSetup, octo))
  add('cross-user state', "setup: mona's acme link, octo on GitHub, mona's session", 403, /signed in on GitHub as octo/, () => followSetup(app, sim, mona, acmeSetup, OCTO))
  add('cross-user state', "setup: mona's acme link, octo on GitHub, no session", 403, /signed in on GitHub as octo/, () => followSetup(app, sim, undefined, acmeSetup, OCTO))
  add('forged state', 'sign-in: a state never issued, no session', 400, SIGN_IN_SPENT, () => get('/auth/callback?code=c&state=never-issued'))
  add('forged state', "sign-in: a state never issued, mona's session", 400, SIGN_IN_SPENT, () => get('/auth/callback?code=c&state=never-issued', mona))
  add('cross-user state', "sign-in: another browser's state in mona's session", 400, SIGN_IN_SPENT, async () => get(`/auth/callback?code=c&state=${(await signInUnderWay()).state}`, mona))
  add('replayed state', 'sign-in: a state already used', 400, SIGN_IN_SPENT, async () => {
    const { cookie, state } = await signInUnderWay()
    await get(`/auth/callback?error=access_denied&state=${state}`, cookie)
    return get(`/auth/callback?code=c&state=${state}`, cookie)
  })
  add('forged state', 'sign-in: cancelled on GitHub', 400, /You cancelled the sign-in on GitHub/, () => get('/auth/callback?error=access_denied&state=x'))

  // Installation ids that are not the state's, or not anyone's.
  const withInstallation = (id: number | string) => acmeSetup.replace(/installation_id=\d+/, `installation_id=${id}`)
  add('foreign installation', "octo's own account's installation", 403, new RegExp(`GitHub does not list installation ${octosOwn.id}`), () => followSetup(app, sim, mona, withInstallation(octosOwn.id), MONA))
  add('foreign installation', "widgets' installation, which mona can see, for acme's state", 403, new RegExp(`Installation ${widgets.id} is on widgets, not on acme`), () => followSetup(app, sim, mona, withInstallation(widgets.id), MONA))
  add('foreign installation', "mona's own installation for acme's state", 403, /is on mona, not on acme/, () => followSetup(app, sim, mona, withInstallation(monaInstallation), MONA))
  add('foreign installation', 'an installation GitHub does not have', 403, /GitHub does not list installation 987654321/, () => followSetup(app, sim, mona, withInstallation(987654321), MONA))
  for (const id of ['', 'abc', '-3', '0', '1.5', '99999999999999999999']) {
    add('foreign installation', `installation_id ${JSON.stringify(id)}`, 400, NO_ID, () => get(withInstallation(id), mona))
  }

  // Missing, repeated and oversize parameters.
  add('parameters', 'setup: nothing at all', 400, NO_ACTION, () => get('/github/setup', mona))
  add('parameters', 'setup: only a state', 400, NO_ACTION, () => get(setupUrl({ state: acmeState }), mona))
  add('parameters', 'setup: an action GitHub never sends', 400, NO_ACTION, () => get(setupUrl({ setup_action: 'installed', installation_id: acmeInstallation, state: acmeState }), mona))
  add('parameters', 'setup: no installation id', 400, NO_ID, () => get(setupUrl({ setup_action: 'install', state: acmeState }), mona))
  add('parameters', 'setup: setup_action twice', 400, NO_ACTION, () => get(setupUrl({ setup_action: ['install', 'install'], installation_id: acmeInstallation, state: acmeState }), mona))
  add('parameters', 'setup: installation_id twice', 400, NO_ID, () => get(setupUrl({ setup_action: 'install', installation_id: [acmeInstallation, acmeInstallation], state: acmeState }), mona))
  add('parameters', 'setup: state twice', 400, NOT_OURS, () => get(setupUrl({ setup_action: 'install', installation_id: acmeInstallation, state: [acmeState, acmeState] }), mona))
  add('parameters', 'setup: a state of 64 KiB', 400, NOT_OURS, () => get(setupUrl({ setup_action: 'install', installation_id: acmeInstallation, state: `${body}.${'A'.repeat(65_536)}` }), mona))
  add('parameters', 'setup: an installation id of 4,000 digits', 400, NO_ID, () => get(setupUrl({ setup_action: 'install', installation_id: '9'.repeat(4000), state: acmeState }), mona))
  add('parameters', 'sign-in: nothing at all', 400, SIGN_IN_SPENT, () => get('/auth/callback', mona))
  add('parameters', 'sign-in: no code', 400, /GitHub sent no authorization code/, async () => {
    const { cookie, state } = await signInUnderWay()
    return get(`/auth/callback?state=${state}`, cookie)
  })
  add('parameters', 'sign-in: state twice', 400, SIGN_IN_SPENT, async () => {
    const { cookie, state } = await signInUnderWay()
    return get(`/auth/callback?code=c&state=${state}&state=${state}`, cookie)
  })
  add('parameters', 'sign-in: code twice', 400, /GitHub did not accept this sign-in/, async () => {
    const { cookie, state } = await signInUnderWay()
    return get(`/auth/callback?code=a&code=b&state=${state}`, cookie)
  })
  add('parameters', 'sign-in: a code of 64 KiB', 400, /GitHub did not accept this sign-in/, async () => {
    const { cookie, state } = await signInUnderWay()
    return get(`/auth/callback?code=${'c'.repeat(65_536)}&state=${state}`, cookie)
  })
  for (const id of ['0', '-1', '1.5', '9'.repeat(30), '9'.repeat(200)]) {
    // Longer than fastify's 100 characters for a path parameter: 414 before any handler.
    add('parameters', `wizard: batch id ${id.length > 12 ? `of ${id.length} digits` : id}`, id.length > 100 ? 414 : 404, id.length > 100 ? /This address is longer than any page of this service/ : NO_STEP, () => post(`/migrate/batches/${id}/install`, mona, { _csrf: csrf }))
  }
  add('parameters', 'wizard: a malformed escape in the batch id', 400, /This address is not well formed/, () => post('/migrate/batches/1%E0%A4%A/install', mona, { _csrf: csrf }))
  for (const step of ['install', 'add', 'remove', 'check']) {
    add('parameters', `wizard: ${step} on octo's batch`, 404, NO_STEP, () => post(`/migrate/batches/${octoBatch}/${step}`, mona, { _csrf: csrf }))
  }
  add('parameters', "wizard: octo's batch's before.csv", 404, NO_STEP, () => get(`/migrate/batches/${octoBatch}/before.csv`, mona))
  add('parameters', 'wizard: _csrf twice', 403, CSRF, () => post('/migrate/refresh', mona, { _csrf: [csrf, csrf] }))
  add('parameters', 'legacy receiver: no secret', 401, /Send the receiver secret/, () => legacy('5000', null))
  add('parameters', 'legacy receiver: the secret twice', 401, /Send the receiver secret/, () => legacy('5000', `Bearer ${TEST_RECEIVER_SECRET} Bearer ${TEST_RECEIVER_SECRET}`))
  add('parameters', 'legacy receiver: a hook id of 17 digits', 400, /A hook id is a positive whole number/, () => legacy('1'.repeat(17)))
  add('parameters', 'legacy receiver: a hook nobody recorded', 404, /name no hook 4242/, () => legacy('4242'))
  add('parameters', 'webhook: no X-GitHub-Delivery', 400, /names its X-GitHub-Delivery/, () => hook(captured, { 'x-github-delivery': undefined }))
  add('parameters', 'webhook: no X-GitHub-Event', 400, /names its X-GitHub-Delivery/, () => hook(captured, { 'x-github-event': undefined }))
  add('parameters', 'webhook: an empty body', 400, /has a JSON body/, () => hook('', {}))
  add('parameters', 'webhook: a body over 25 MiB', 413, /too large/i, () => hook(`{"pad":"${'x'.repeat(26 * 1024 * 1024)}"}`, { 'x-hub-signature-256': 'sha256=00' }))

  // SQL, HTML, CR/LF and Unicode in every field a stranger can fill.
  for (const [trick, value] of Object.entries(TRICKS)) {
    const kind = `${trick} in fields`
    add(kind, 'setup: state', 400, NOT_OURS, () => get(setupUrl({ setup_action: 'install', installation_id: acmeInstallation, state: value }), mona))
    add(kind, 'setup: installation_id', 400, NO_ID, () => get(setupUrl({ setup_action: 'install', installation_id: value, state: acmeState }), mona))
    add(kind, 'setup: setup_action', 400, NO_ACTION, () => get(setupUrl({ setup_action: value, installation_id: acmeInstallation, state: acmeState }), mona))
    add(kind, 'sign-in: state', 400, SIGN_IN_SPENT, () => get(`/auth/callback?code=c&state=${encodeURIComponent(value)}`, mona))
    add(kind, 'sign-in: code', 400, /GitHub did not accept this sign-in/, async () => {
      const { cookie, state } = await signInUnderWay()
      return get(`/auth/callback?code=${encodeURIComponent(value)}&state=${state}`, cookie)
    })
    add(kind, 'sign-in: error', 400, SIGN_IN_SPENT, () => get(`/auth/callback?error=${encodeURIComponent(value)}&state=x`))
    add(kind, 'wizard: batch id', 404, NO_STEP, () => post(`/migrate/batches/${encodeURIComponent(value)}/install`, mona, { _csrf: csrf }))
    add(kind, "wizard: batch id of a before.csv", 404, NO_STEP, () => get(`/migrate/batches/${encodeURIComponent(value)}/before.csv`, mona))
    add(kind, 'wizard: _csrf', 403, CSRF, () => post('/migrate/refresh', mona, { _csrf: value }))
    add(kind, 'wizard: via and auto beside a wrong _csrf', 403, CSRF, () => post(`/migrate/batches/${acmeBatch}/remove`, mona, { _csrf: `${csrf}x`, auto: value, via: value }))
    add(kind, 'session cookie', 403, CSRF, () => post('/migrate/refresh', value, { _csrf: csrf }))
    add(kind, 'legacy receiver: hook id', 400, /A hook id is a positive whole number/, () => legacy(value))
    add(kind, 'staff search, as mona', 404, NO_PAGE, () => get(`/staff/search?q=${encodeURIComponent(value)}`, mona))
    add(kind, 'staff timeline id, as a visitor', 404, NO_PAGE, () => get(`/staff/timeline/user/${encodeURIComponent(value)}`))
    // A header cannot carry CR, LF or NUL (Node's HTTP parser refuses them before any route): the rest of the value goes.
    const headerValue = value.replace(/[\r\n\u0000]/g, ' ')
    add(kind, 'legacy receiver: the secret', 401, /Send the receiver secret/, () => legacy('5000', `Bearer ${encodeURIComponent(headerValue)}`))
    add(kind, 'webhook: X-GitHub-Delivery, wrongly signed', 401, BAD_SIGNATURE, () => hook(captured, { 'x-github-delivery': encodeURIComponent(headerValue), 'x-hub-signature-256': signature('sha256', 'not-the-secret', captured) }))
    add(kind, 'webhook: X-GitHub-Event, wrongly signed', 401, BAD_SIGNATURE, () => hook(captured, { 'x-github-event': encodeURIComponent(headerValue), 'x-hub-signature-256': signature('sha256', 'not-the-secret', captured) }))
    add(kind, 'webhook: the signature', 401, BAD_SIGNATURE, () => hook(captured, { 'x-hub-signature-256': `sha256=${encodeURIComponent(headerValue)}` }))
    add(kind, 'webhook: the body, wrongly signed', 401, BAD_SIGNATURE, () => hook(JSON.stringify({ action: value, installation: { id: value, account: { id: value } } }), { 'x-hub-signature-256': signature('sha256', 'not-the-secret', captured) }))
  }

  // Bad and replayed webhook signatures; replayed deliveries.
  const signatures: Record<string, [string, string]> = {
    'no signature': [captured, ''],
    'signed with another secret': [captured, signature('sha256', 'not-the-secret', captured)],
    "the captured delivery's signature on another body": [captured.replace('"suspend"', '"deleted"'), signature('sha256', WEBHOOK_SECRET, captured)],
    'a SHA-1 signature': [captured, signature('sha1', WEBHOOK_SECRET, captured)],
    'the hex alone': [captured, signature('sha256', WEBHOOK_SECRET, captured).slice('sha256='.length)],
    'sha256= and nothing': [captured, 'sha256='],
    'garbage': [captured, 'sha256=zzz'],
    'the right signature with a byte appended to the body': [`${captured} `, signature('sha256', WEBHOOK_SECRET, captured)],
  }
  for (const [what, [text, sent]] of Object.entries(signatures)) add('webhook signature', what, 401, BAD_SIGNATURE, () => hook(text, { 'x-hub-signature-256': sent === '' ? undefined : sent }))
  add('replayed delivery', 'the captured delivery under its own id (as GitHub redelivers)', 200, /duplicate/, () => hook(captured, { 'x-github-delivery': capturedId }))
  add('replayed delivery', 'the captured delivery under a new id', 409, /delivered before under another X-GitHub-Delivery/, () => hook(captured, {}))
  add('replayed delivery', 'the captured delivery under a new id, as another event', 409, /delivered before under another X-GitHub-Delivery/, () => hook(captured, { 'x-github-event': 'installation_repositories' }))

  // POSTs without the session's CSRF token.
  const posts = ['/migrate/refresh', `/migrate/batches/${acmeBatch}/install`, `/migrate/batches/${acmeBatch}/add`, `/migrate/batches/${acmeBatch}/remove`, `/migrate/batches/${acmeBatch}/check`, '/migrate/disconnect', '/auth/logout']
  for (const url of posts) {
    add('CSRF-less post', `${url}: no token`, 403, CSRF, () => post(url, mona, { auto: 'on' }))
    add('CSRF-less post', `${url}: a wrong token`, 403, CSRF, () => post(url, mona, { _csrf: 'x' }))
    add('CSRF-less post', `${url}: another session's token`, 403, CSRF, () => post(url, mona, { _csrf: otherCsrf }))
    add('CSRF-less post', `${url}: the token in the query`, 403, CSRF, () => post(`${url}?_csrf=${encodeURIComponent(csrf)}`, mona))
    add('CSRF-less post', `${url}: no session`, 403, CSRF, () => post(url, undefined, { _csrf: csrf }))
  }

  // The staff console as someone it is not for.
  const event = await tdb.db.selectFrom('app.audit_event').select('id').orderBy('id').executeTakeFirstOrThrow()
  const samples: Record<string, string> = { '/staff/audit/:id': `/staff/audit/${event.id}`, '/staff/timeline/:kind/:id': '/staff/timeline/user/1', '/staff/search': '/staff/search?q=mona' }
  for (const route of app.staffRoutes.filter((r) => r.method === 'GET')) {
    const url = samples[route.url] ?? route.url
    add('staff URL', `${url} as a visitor`, 404, NO_PAGE, () => get(url))
    add('staff URL', `${url} as mona, a user`, 404, NO_PAGE, () => get(url, readers.mona))
    if (route.role === 'operator') add('staff URL', `${url} as sam, support`, 404, NO_PAGE, () => get(url, readers.sam))
  }

  // The corpus, each request checked against the world as it was before it.
  let db = await databaseDigest(service)
  const github = await githubDigest(service)
  let lastEvent = Number((await tdb.db.selectFrom('app.audit_event').select((e) => e.fn.max('id').as('id')).executeTakeFirstOrThrow()).id)
  const violations: { case: string; what: string }[] = []
  const statuses = new Map<string, Map<number, number>>()
  const auditedActions = new Map<string, number>()
  for (const c of cases) {
    const label = `${c.kind}: ${c.name}`
    const violation = (what: string) => violations.push({ case: label, what })
    const res = await c.send()
    const byStatus = statuses.get(c.kind) ?? new Map<number, number>()
    statuses.set(c.kind, byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1))
    if (res.statusCode !== c.status) violation(`answered ${res.statusCode}, not ${c.status}`)
    if (!c.message.test(res.body)) violation(`the answer does not say ${String(c.message)}`)
    if (res.body.includes('<script>alert(1)</script>')) violation('the HTML came back unescaped')
    if (res.cookies.some((k) => k.name === 'owned') || res.headers['location'] === 'https://evil.example/') violation('a CR/LF made a header')
    const now = await databaseDigest(service)
    const dbChanged = changed(db, now)
    if (dbChanged.length > 0) violation(`changed ${dbChanged.join(', ')}`)
    db = now
    if ((await githubDigest(service)) !== github) violation("changed GitHub's side (/_sim/state)")
    const events = await tdb.db.selectFrom('app.audit_event').select(['id', 'action', 'outcome']).where('id', '>', lastEvent).orderBy('id').execute()
    for (const e of events) {
      auditedActions.set(`${e.action} (${e.outcome})`, (auditedActions.get(`${e.action} (${e.outcome})`) ?? 0) + 1)
      if (e.outcome !== 'rejected') violation(`audited ${e.action} (${e.outcome})`)
      lastEvent = Number(e.id)
    }
  }
  t.equal(violations.length, 0, 'no invariant violations')
  for (const v of violations) t.comment(`VIOLATION ${v.case}: ${v.what}`)

  // The old webhooks as the vendor's receiver sees them: the corpus moved none.
  const hooks = await tdb.db.selectFrom('app.legacy_hook_state').select(['state', (e) => e.fn.countAll<number>().as('n')]).groupBy('state').orderBy('state').execute()

  // Afterwards mona is still signed in, in the session the corpus attacked, and the checks
  // above do see a change when there is one: her own refresh, with her page's token.
  t.match((await view(app, mona)).body, /Signed in as <strong>mona<\/strong>/, 'the sessions the corpus posted from are intact')
  t.equal((await post('/migrate/refresh', mona, { _csrf: csrf })).statusCode, 303, "mona's own refresh is taken")
  t.not(changed(db, await databaseDigest(service)).length, 0, 'and the digest sees what it changed')

  const kinds = [...statuses.keys()]
  const fmt = (m: Map<number, number>) => [...m].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')
  const rows: (string | number)[][] = [['kind', 'requests', 'answers', 'violations']]
  for (const kind of kinds) {
    const mine = cases.filter((c) => c.kind === kind)
    rows.push([kind, mine.length, fmt(statuses.get(kind)!), violations.filter((v) => mine.some((c) => v.case === `${c.kind}: ${c.name}`)).length])
  }
  const all = new Map<number, number>()
  for (const m of statuses.values()) for (const [s, n] of m) all.set(s, (all.get(s) ?? 0) + n)
  rows.push(['total', cases.length, fmt(all), violations.length])
  process.stdout.write(`\n# hostile corpus (${((Date.now() - started) / 1000).toFixed(1)} s)\n${table(rows)}\n\naudit events the corpus wrote: ${[...auditedActions].map(([a, n]) => `${a} ×${n}`).join(', ') || 'none'}\nold webhooks by state: ${hooks.map((h) => `${h.state} ×${h.n}`).join(', ')} (the digest holds them still)\ninvariant violations: ${violations.length}\n`)
  t.ok(cases.length >= 150, `at least 150 requests (${cases.length})`)
})
