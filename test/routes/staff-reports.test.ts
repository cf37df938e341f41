import { sql } from 'kysely'
import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import type { World } from '../../src/simulator/world.js'
import { demoWorld, installedOnMonaAndAcme } from '../helpers/simulator.js'
import { signIn } from '../helpers/sign-in.js'
import { MONA, OLGA, SAM, staffService } from '../helpers/staff.js'
import { csrfOf, formAction, planned, settled, view } from '../helpers/wizard.js'

// The before-state report: what an operator downloads from the console, and what an org
// owner downloads from the wizard (seed 000: "a list of 'before'"), before and after cleanup.

/** A CSV report's rows as objects (no cell in these worlds holds a comma or a line break). */
function rowsOf(csv: string): Record<string, string>[] {
  const [header, ...lines] = csv.trimEnd().split('\n')
  const names = header!.split(',')
  return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i]!, value])))
}

/** hook id → "status installation credential reason repository_now frozen?", the parts a reader acts on. */
function outcomes(csv: string): Record<string, string> {
  return Object.fromEntries(
    rowsOf(csv).map((r) => [r['hook_id']!, [r['status'], r['installation_id'], r['credential'], r['reason'], r['repository_now'], r['frozen_at'] === '' ? 'not frozen' : 'frozen'].filter((x) => x !== '').join(' ')]),
  )
}

t.test('the operator downloads every old webhook and what became of it, before and after mona migrates; the vendor changing its tables changes nothing', async (t) => {
  const service = await staffService(t, { world: installedOnMonaAndAcme([1000, 1001, 1002]) })
  const olga = await service.as(OLGA)
  const before = await olga('/staff/reports/before')
  t.equal(before.statusCode, 200)
  t.equal(before.headers['content-type'], 'text/csv; charset=utf-8')
  t.match(before.headers['content-disposition'], /^attachment; filename="before-state-\d{4}-\d\d-\d\d-\d{6}\.csv"$/)
  t.same(before.body.split('\n')[0], 'owner,owner_id,owner_type,kind,repository,repo_id,hook_id,hook_url,enabled_by,enabled_by_id,enabled_at,frozen_at,status,installation_id,covered_at,finished_at,credential,reason,repository_now')
  t.same(rowsOf(before.body)[3], {
    owner: 'acme', owner_id: '100', owner_type: 'Organization', kind: 'repo', repository: 'acme/web', repo_id: '1101', hook_id: '5101', hook_url: 'https://ci.example.com/hooks/github',
    enabled_by: 'hubot', enabled_by_id: '2', enabled_at: '2018-05-02T10:00:00.000Z', frozen_at: '', status: 'active', installation_id: '', covered_at: '', finished_at: '', credential: '', reason: '', repository_now: '',
  })
  t.same(Object.values(outcomes(before.body)), Array(9).fill('active not frozen'), 'nothing migrated, nothing frozen: read from the legacy tables')

  const cookie = await signIn(service.app, service.sim, MONA)
  const page = await view(service.app, cookie)
  await service.app.inject({ method: 'POST', url: formAction(page.body, 'Remove 3 old webhooks'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body), auto: 'on' } })
  await settled(service)
  const expected = {
    '6000': 'removed 501 legacy frozen',
    '5100': 'removed 501 legacy frozen',
    '5102': 'removed 501 legacy frozen',
    '5101': 'removed 501 installation frozen',
    '5999': 'repository_gone the repository no longer exists on GitHub frozen',
    '5000': 'removed 500 legacy frozen',
    '5003': 'removed 500 legacy mona/new-name frozen',
    '5001': 'removed 500 legacy frozen',
    '5200': 'active not frozen',
  }
  const after = await olga('/staff/reports/before')
  t.same(outcomes(after.body), expected, "mona's sign-in froze her hooks; hubot's was frozen before its removal; octo's is untouched")
  const web = rowsOf(after.body).find((r) => r['hook_id'] === '5101')!
  t.ok(Date.parse(web['covered_at']!) <= Date.parse(web['finished_at']!), 'covered, then removed')

  // The vendor renames, repoints and deletes its records: "before" stays what it was.
  await sql`update legacy.webhooks set repo_name = 'renamed-by-vendor', hook_url = 'https://elsewhere.example/' where hook_id = 5000`.execute(service.tdb.db)
  await sql`delete from legacy.webhooks where owner_id = 100`.execute(service.tdb.db)
  const later = await olga('/staff/reports/before')
  t.same(outcomes(later.body), expected)
  t.same(rowsOf(later.body).find((r) => r['hook_id'] === '5000'), { ...rowsOf(after.body).find((r) => r['hook_id'] === '5000') })

  const acme = await olga('/staff/reports/before?owner=ACME&format=ndjson')
  t.equal(acme.headers['content-type'], 'application/x-ndjson; charset=utf-8')
  t.match(acme.headers['content-disposition'], /filename="before-state-ACME-.*\.ndjson"/)
  const lines = acme.body.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  t.same(lines.map((l) => [l['hook_id'], l['repository'], l['status']]), [[6000, null, 'removed'], [5100, 'acme/api', 'removed'], [5102, 'acme/vault', 'removed'], [5101, 'acme/web', 'removed']])
  t.same(Object.keys(lines[0]!), rowsOf(after.body).length > 0 ? Object.keys(rowsOf(after.body)[0]!) : [], 'the same columns as the CSV')
  t.same(rowsOf((await olga('/staff/reports/before?owner=101')).body).map((r) => r['repository']), ['widgets/core'], 'by id')

  const unknown = await olga('/staff/reports/before?owner=nobody-here')
  t.equal(unknown.statusCode, 404)
  t.match(unknown.body, /No legacy webhook or migration is recorded for the owner “nobody-here”\./)
  t.equal((await olga('/staff/reports/before?format=xlsx')).statusCode, 400)

  const exports = await service.tdb.db.selectFrom('app.audit_event').select(['actor_login', 'detail']).where('action', '=', 'staff_export').orderBy('id').execute()
  t.same(exports.map((e) => [e.actor_login, (e.detail as { url: string }).url]).slice(0, 2), [['olga', '/staff/reports/before'], ['olga', '/staff/reports/before']], 'each download is on the record')
  const signIns = await service.tdb.db.selectFrom('app.audit_event').select('detail').where('action', '=', 'sign_in').where('actor_github_id', '=', MONA).execute()
  t.same(signIns.map((e) => e.detail), [{ beforeFrozen: 7 }], "mona's first sign-in froze the 7 hooks she enabled")
})

t.test('the report page says how much is frozen, for operators only; support staff do not see it', async (t) => {
  const service = await staffService(t)
  const olga = await service.as(OLGA)
  const page = await olga('/staff/reports')
  t.equal(page.statusCode, 200)
  t.match(page.body, /<p>0 records frozen; 9 not frozen yet \(listed as the legacy tables have them now/)
  t.match(page.body, /<form method="get" action="\/staff\/reports\/before"/)
  t.match((await olga('/staff')).body, /<a href="\/staff\/reports">Before-state report<\/a>/)
  const sam = await service.as(SAM)
  t.equal((await sam('/staff/reports')).statusCode, 404)
  t.notMatch((await sam('/staff')).body, /Before-state report/)
  await sql`insert into app.before_snapshot (hook_id, kind, owner_id, owner_login, owner_type, repo_id, repo_name, hook_url, enabled_by)
    select hook_id, kind, owner_id, owner_login, owner_type, repo_id, repo_name, hook_url, github_user_id from legacy.webhooks`.execute(service.tdb.db)
  t.match((await olga('/staff/reports')).body, /<p>9 records frozen\.<\/p>/)
})

/** The demo world, with widgets' members seeing only what they are given, and a private repository only octo (its admin) can see, with octo's legacy hook. */
function withSecret(): World {
  const world = demoWorld()
  world.orgs!.find((o) => o.login === 'widgets')!.default_repository_permission = 'none'
  world.repos.push({ id: 1201, owner: 'widgets', name: 'secret', private: true, hooks: [{ id: 5201, url: 'https://ci.example.com/hooks/github', created_by: 'legacy-oauth-client' }] })
  world.legacy_registrations!.push({ id: 10, github_user_id: 3, kind: 'repo', owner_id: 101, owner_login: 'widgets', owner_type: 'Organization', repo_id: 1201, repo_name: 'secret', hook_id: 5201, hook_url: 'https://ci.example.com/hooks/github', created_at: '2019-07-02T10:00:00Z' })
  return world
}

t.test("a user downloads their owner's report from the wizard: only what GitHub lets them see", async (t) => {
  const service = await staffService(t, { world: withSecret() })
  const cookie = await signIn(service.app, service.sim, MONA)
  await planned(service.app, cookie)
  const page = (await view(service.app, cookie)).body
  const section = (login: string) => page.split(`id="owner-${login}"`)[1]!.split('</section>')[0]!
  t.match(section('widgets'), /1 private repository you cannot see/)
  const link = (login: string) => /<a href="(\/migrate\/batches\/\d+\/before\.csv)" download>Download what was there before<\/a>/.exec(section(login))![1]!
  const read = (url: string, as = cookie) => service.app.inject({ url, cookies: { [SESSION_COOKIE]: as } })

  const widgets = await read(link('widgets'))
  t.equal(widgets.statusCode, 200)
  t.match(widgets.headers['content-disposition'], /^attachment; filename="before-state-widgets-.*\.csv"$/)
  t.same(rowsOf(widgets.body).map((r) => r['repository']), ['widgets/core'], 'widgets/secret is not named')
  t.notMatch(widgets.body, /secret|5201/)
  t.same(rowsOf((await read(link('acme'))).body).map((r) => r['hook_id']), ['6000', '5100', '5102', '5101'], "acme's organization hook and every repository, whoever enabled it")
  const olga = await service.as(OLGA)
  t.match((await olga('/staff/reports/before?owner=widgets')).body, /widgets\/secret/, 'the operator sees it')

  const octo = await signIn(service.app, service.sim, 3)
  const theirs = await read(link('widgets'), octo)
  t.equal(theirs.statusCode, 404, "another user's batch is not theirs to read")
  t.match(theirs.body, /There is no such step in your migration/)
  t.equal((await service.app.inject({ url: link('widgets') })).statusCode, 401)
  t.equal((await read('/migrate/batches/999999/before.csv')).statusCode, 404)

  const events = await service.tdb.db.selectFrom('app.audit_event').select(['actor_login', 'owner_login', 'detail']).where('action', '=', 'before_report').orderBy('id').execute()
  t.same(
    events.map((e) => [e.actor_login, e.owner_login, (e.detail as { format: string }).format]),
    [['mona', 'widgets', 'csv'], ['mona', 'acme', 'csv']],
  )
})
