import t, { type Test } from 'tap'
import { appendAudit } from '../../src/migration/audit.js'
import { SAM, staffService } from '../helpers/staff.js'

// The audit log as support staff read it: filters, pages, one event whole, and the CSV export.

async function asSam(t: Test) {
  const service = await staffService(t, { seedLegacy: false })
  return { ...service, get: await service.as(SAM) }
}

const system = { kind: 'system' as const }

/** The rows of the page's table, each as its cells' text. */
function rows(html: string): string[][] {
  const body = html.split('<tbody>')[1]?.split('</tbody>')[0] ?? ''
  return body
    .split('<tr>')
    .slice(1)
    .map((r) => r.split(/<td[^>]*>/).slice(1).map((c) => c.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()))
}

t.test('filtered, newest first, a page at a time, with links that keep the filter', async (t) => {
  const service = await asSam(t)
  for (let i = 0; i < 60; i++) {
    await appendAudit(service.tdb.db, { actor: system, action: 'hook_cleanup', target: { ownerId: 100, ownerLogin: 'acme', repoId: 1100, repoName: 'web', hookId: 7000 + i }, outcome: 'removed' })
  }
  await appendAudit(service.tdb.db, { actor: system, action: 'hook_cleanup', target: { ownerId: 100, ownerLogin: 'acme', repoId: 1101, repoName: 'api', hookId: 5101 }, outcome: 'needs_manual', reason: 'delete hook 5101 on acme/api by hand' })

  const first = await service.get('/staff/audit?repo=acme/web')
  t.equal(first.statusCode, 200)
  t.match(first.body, /<title>Audit log · oauth-to-app<\/title>/)
  const page = rows(first.body)
  t.equal(page.length, 50)
  t.match(page[0], [/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, 'system', 'hook_cleanup', 'acme/web · hook 7059', 'removed'])
  t.match(first.body, /value="acme\/web"/, 'the form keeps the filter')
  const older = /<a rel="next" href="([^"]+)">Older/.exec(first.body)![1]!.replaceAll('&amp;', '&')
  t.match(older, /^\/staff\/audit\?repo=acme%2Fweb&before=\d+$/)
  const second = rows((await service.get(older)).body)
  t.equal(second.length, 10)
  t.match(second.at(-1), [/./, 'system', 'hook_cleanup', 'acme/web · hook 7000', 'removed'])

  const manual = rows((await service.get('/staff/audit?outcome=needs_manual')).body)
  t.match(manual, [[/./, 'system', 'hook_cleanup', 'acme/api · hook 5101', 'needs_manual delete hook 5101 on acme/api by hand']])
  t.match((await service.get('/staff/audit?owner=nobody')).body, /No event matches these filters\./)
})

t.test('every field at once narrows to the one event; a day given as "to" includes that day', async (t) => {
  const service = await asSam(t)
  const actor = { kind: 'user' as const, githubId: 1, login: 'mona' }
  await appendAudit(service.tdb.db, { actor, action: 'hook_cleanup', target: { ownerId: 100, ownerLogin: 'acme', repoId: 1101, repoName: 'api', hookId: 5101, installationId: 501 }, outcome: 'removed' })
  await appendAudit(service.tdb.db, { actor, action: 'hook_cleanup', target: { ownerId: 100, ownerLogin: 'acme', repoId: 1101, repoName: 'api', hookId: 5102, installationId: 501 }, outcome: 'removed' })
  const today = new Date().toISOString().slice(0, 10)
  const all = `user=mona&owner=acme&repo=acme/api&hook=5101&installation=501&action=hook_cleanup&outcome=removed&from=${today}&to=${today}`
  t.match(rows((await service.get(`/staff/audit?${all}`)).body), [[/./, 'mona', 'hook_cleanup', 'acme/api · hook 5101 · installation 501', 'removed']])
  t.equal(rows((await service.get(`/staff/audit?${all}`)).body).length, 1)
  t.match((await service.get(`/staff/audit?user=mona&from=${today}T00:00:00Z`)).body, /hook 5102/, 'an instant as "from"')
  t.match((await service.get('/staff/audit?to=2000-01-01')).body, /No event matches these filters\./)
  t.equal((await service.get('/staff/audit?from=2026-13-45')).statusCode, 400, 'a date that is none')
  t.match((await service.get('/staff/audit?user=%20%20')).body, /hook 5102/, 'a blank field is no filter')
})

t.test('one event whole, with links to what it concerns', async (t) => {
  const service = await asSam(t)
  const { id } = await appendAudit(service.tdb.db, { actor: system, action: 'hook_cleanup', target: { ownerId: 100, ownerLogin: 'acme', repoId: 1101, repoName: 'api', hookId: 5101 }, outcome: 'needs_manual', reason: 'delete it by hand', detail: { credential: 'legacy', attempt: 2 } })
  const res = await service.get(`/staff/audit/${id}`)
  t.equal(res.statusCode, 200)
  t.match(res.body, `<h1>Audit event ${id}</h1>`)
  t.match(res.body, 'href="/staff/audit?hook=5101"')
  t.match(res.body, 'href="/staff/audit?repo=1101"')
  t.match(res.body, /&quot;credential&quot;: &quot;legacy&quot;/)
  t.match(res.body, /not sealed yet|position \d+/)
  const missing = await service.get('/staff/audit/999999')
  t.equal(missing.statusCode, 404)
  t.match(missing.body, /There is no audit event 999999\./)
  t.equal((await service.get('/staff/audit/abc')).statusCode, 400)
})

t.test('bad filters are refused with a reason, and change nothing', async (t) => {
  const service = await asSam(t)
  const bad = await service.get('/staff/audit?from=yesterday')
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /“from” must be a date \(2026-11-30\) or a time/)
  t.equal((await service.get('/staff/audit?hook=-1')).statusCode, 400)
  t.equal((await service.get('/staff/audit?action=DROP%20TABLE')).statusCode, 400)
  t.equal((await service.get(`/staff/audit?repo=${'x'.repeat(301)}`)).statusCode, 400)
})

t.test('the CSV export: the whole filter, streamed, formulas and line breaks in names made harmless, and on the record', async (t) => {
  const service = await asSam(t)
  await appendAudit(service.tdb.db, { actor: system, action: 'hook_cleanup', target: { ownerId: 200, ownerLogin: '=HYPERLINK("http://evil")', repoId: 2000, repoName: 'line\r\nbreak', hookId: 1 }, outcome: 'removed' })
  for (let i = 0; i < 1_200; i++) await appendAudit(service.tdb.db, { actor: system, action: 'coverage_checked', target: { ownerId: 200, ownerLogin: '@sum', repoId: 2001 + i, repoName: `+r${i}` }, outcome: '-ok' })
  await appendAudit(service.tdb.db, { actor: system, action: 'sign_in', target: { ownerId: 300 }, outcome: 'ok' })
  const res = await service.get('/staff/audit.csv?owner=200')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  t.match(res.headers['content-disposition'], /^attachment; filename="audit-\d{4}-\d\d-\d\d-\d{6}\.csv"$/)
  const lines = res.body.split('\r\n')
  t.equal(lines[0], 'id,at,actor_kind,actor_login,actor_github_id,action,owner_login,owner_id,repo_name,repo_id,hook_id,installation_id,outcome,reason,request_id,detail')
  t.equal(lines.at(-1), '', 'every row ends with CRLF')
  // 1,201 events over more than one of the export's reads; the line break stays inside its quotes.
  t.equal(res.body.match(/,coverage_checked,/g)!.length, 1_200)
  t.match(res.body, /,"'=HYPERLINK\(""http:\/\/evil""\)",200,"line\r\nbreak",2000,1,,removed,/)
  t.match(res.body, /,"'@sum",200,"'\+r0",2001,,,"'-ok",/)
  t.notMatch(res.body, /,(=|\+|-|@)/, 'no cell starts with a formula character')
  t.notMatch(res.body, /sign_in/, 'only the filter')
  const exports = await service.tdb.db.selectFrom('app.audit_event').select(['actor_login', 'detail']).where('action', '=', 'staff_export').execute()
  t.match(exports, [{ actor_login: 'sam', detail: { url: '/staff/audit.csv?owner=200' } }])
})

t.test('a repository name alone that more than 50 repositories had asks for its owner, on the page and for the export', async (t) => {
  const service = await asSam(t)
  for (let r = 0; r < 51; r++) {
    await appendAudit(service.tdb.db, { actor: system, action: 'repo_added', target: { ownerId: 300 + r, ownerLogin: `o${r}`, repoId: 4000 + r, repoName: 'web' }, outcome: 'ok' })
  }
  const page = await service.get('/staff/audit?repo=web')
  t.equal(page.statusCode, 200)
  t.match(page.body, /<p class="problem" role="alert">More than 50 repositories have been called “web”: give its owner as well \(owner\/web\), or paste the repository&#39;s address or id\.<\/p>/)
  t.same(rows(page.body), [])
  const csv = await service.get('/staff/audit.csv?repo=web')
  t.equal(csv.statusCode, 400)
  t.match(csv.body, /More than 50 repositories have been called “web”/)
  t.equal(rows((await service.get('/staff/audit?repo=o7/web')).body).length, 1)
})
