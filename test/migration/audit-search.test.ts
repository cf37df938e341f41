import t, { type Test } from 'tap'
import { appendAudit, sealPending, type AuditEvent } from '../../src/migration/audit.js'
import { parseRepo, searchAudit, auditEvent, type AuditFilter } from '../../src/migration/audit-search.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// What support staff find when they ask the log about a user, an owner, a repository (by any
// name it had), a hook, an installation, an action, an outcome or a time.

const mona = { kind: 'user' as const, githubId: 1, login: 'mona' }
const system = { kind: 'system' as const }

/** A small history: acme's web repository renamed to site; the owner acme renamed to acme-corp. */
const HISTORY: AuditEvent[] = [
  { actor: mona, action: 'sign_in', outcome: 'ok' },
  { actor: mona, action: 'batch_planned', target: { ownerId: 100, ownerLogin: 'acme' }, outcome: 'ok' },
  { actor: mona, action: 'installation_verified', target: { ownerId: 100, ownerLogin: 'acme', installationId: 500 }, outcome: 'ok' },
  { actor: system, action: 'hook_cleanup', target: { ownerId: 100, ownerLogin: 'acme', repoId: 1100, repoName: 'web', hookId: 5100 }, outcome: 'removed' },
  { actor: system, action: 'hook_cleanup', target: { ownerId: 100, ownerLogin: 'acme', repoId: 1101, repoName: 'api', hookId: 5101 }, outcome: 'needs_manual', reason: 'the legacy token was revoked' },
  { actor: { kind: 'user', githubId: 3, login: 'Octo' }, action: 'sign_in', outcome: 'ok' },
  { actor: system, action: 'coverage_checked', target: { ownerId: 100, ownerLogin: 'acme-corp', repoId: 1100, repoName: 'site', installationId: 500 }, outcome: 'ok' },
  { actor: system, action: 'hook_cleanup', target: { ownerId: 1, ownerLogin: 'mona', repoId: 1000, repoName: 'web', hookId: 5000 }, outcome: 'removed' },
]

async function seeded(t: Test): Promise<{ tdb: TestDatabase; ids: number[] }> {
  const tdb = await testDatabase(t)
  const ids: number[] = []
  for (const event of HISTORY) ids.push((await appendAudit(tdb.db, event)).id)
  return { tdb, ids }
}

/** The matching events' positions in HISTORY, in the order the search gives them. */
async function found(tdb: TestDatabase, ids: number[], filter: AuditFilter): Promise<number[]> {
  const page = await searchAudit(tdb.db, filter, { limit: 100 })
  return page.events.map((e) => ids.indexOf(e.id))
}

t.test('each filter alone, newest first', async (t) => {
  const { tdb, ids } = await seeded(t)
  t.same(await found(tdb, ids, {}), [7, 6, 5, 4, 3, 2, 1, 0], 'everything, newest first')
  t.same(await found(tdb, ids, { user: 'mona' }), [2, 1, 0])
  t.same(await found(tdb, ids, { user: 'MONA' }), [2, 1, 0], 'logins in any case')
  t.same(await found(tdb, ids, { user: 'octo' }), [5])
  t.same(await found(tdb, ids, { user: '3' }), [5], 'or the account id')
  t.same(await found(tdb, ids, { owner: '100' }), [6, 4, 3, 2, 1])
  t.same(await found(tdb, ids, { owner: 'acme' }), [6, 4, 3, 2, 1], 'a former login finds the events under the new one')
  t.same(await found(tdb, ids, { owner: 'ACME-corp' }), [6, 4, 3, 2, 1])
  t.same(await found(tdb, ids, { hook: 5101 }), [4])
  t.same(await found(tdb, ids, { installation: 500 }), [6, 2])
  t.same(await found(tdb, ids, { action: 'hook_cleanup' }), [7, 4, 3])
  t.same(await found(tdb, ids, { outcome: 'needs_manual' }), [4])
  t.same(await found(tdb, ids, { action: 'hook_cleanup', outcome: 'removed' }), [7, 3], 'filters narrow each other')
})

t.test('a repository by id, by owner/name, by a former name, by a pasted link; a bare name finds every owner’s', async (t) => {
  const { tdb, ids } = await seeded(t)
  t.same(await found(tdb, ids, { repo: '1100' }), [6, 3])
  t.same(await found(tdb, ids, { repo: 'acme/web' }), [6, 3], 'the former name finds the events under the new one')
  t.same(await found(tdb, ids, { repo: 'acme-corp/site' }), [6, 3])
  t.same(await found(tdb, ids, { repo: 'https://github.com/acme/web/settings/hooks' }), [6, 3])
  t.same(await found(tdb, ids, { repo: 'github.com/Acme/Web.git' }), [6, 3])
  t.same(await found(tdb, ids, { repo: 'web' }), [7, 6, 3], "mona's web and acme's")
  t.same(await found(tdb, ids, { repo: 'acme/nothing' }), [], 'a name nobody recorded matches nothing')
  t.same(await found(tdb, ids, { owner: 'nobody' }), [])
})

t.test('pasted repositories are read as people paste them', async (t) => {
  t.same(parseRepo(' 1234 '), { id: 1234 })
  t.same(parseRepo('acme/web'), { owner: 'acme', name: 'web' })
  t.same(parseRepo('web'), { name: 'web' })
  t.same(parseRepo('https://github.com/acme/web/pull/3'), { owner: 'acme', name: 'web' })
  t.same(parseRepo('https://ghe.example.com/acme/web'), { owner: 'acme', name: 'web' }, 'an Enterprise Server address too')
  t.same(parseRepo('http://localhost:3001/acme/web/settings/hooks'), { owner: 'acme', name: 'web' }, "the demo's simulated GitHub: a host without a dot")
  t.same(parseRepo('https://ghe/acme/web'), { owner: 'acme', name: 'web' }, 'an Enterprise Server by a bare name')
  t.same(parseRepo('localhost:3001/acme/web'), { owner: 'acme', name: 'web' }, 'a host with a port and no scheme')
  t.same(parseRepo('/web'), { name: 'web' })
})

t.test('a time range: from is included, to is not', async (t) => {
  const tdb = await testDatabase(t)
  const first = await appendAudit(tdb.db, { actor: mona, action: 'sign_in', outcome: 'ok' })
  await new Promise((resolve) => setTimeout(resolve, 5))
  const { at: middle } = await tdb.db.selectFrom('app.audit_event').select('at').where('id', '=', first.id).executeTakeFirstOrThrow()
  await new Promise((resolve) => setTimeout(resolve, 5))
  const second = await appendAudit(tdb.db, { actor: mona, action: 'sign_out', outcome: 'ok' })
  const ids = [first.id, second.id]
  const later = new Date(middle.getTime() + 1)
  t.same(await found(tdb, ids, { from: later }), [1])
  t.same(await found(tdb, ids, { to: later }), [0])
  t.same(await found(tdb, ids, { from: middle, to: later }), [0])
})

t.test('pages: each event once, in order, whatever is written meanwhile', async (t) => {
  const tdb = await testDatabase(t)
  const written: number[] = []
  for (let i = 0; i < 25; i++) written.push((await appendAudit(tdb.db, { actor: mona, action: 'sign_in', outcome: 'ok', detail: { i } })).id)
  const seen: number[] = []
  let before: number | undefined
  for (let pages = 0; ; pages++) {
    const page = await searchAudit(tdb.db, { user: 'mona' }, { limit: 10, ...(before === undefined ? {} : { before }) })
    seen.push(...page.events.map((e) => e.id))
    // Newer events arriving between pages do not move the pages after.
    await appendAudit(tdb.db, { actor: mona, action: 'sign_in', outcome: 'ok' })
    if (page.next === undefined) {
      t.equal(pages, 2, 'three pages of 10, 10 and 5')
      break
    }
    before = page.next
  }
  t.same(seen, [...written].reverse())
})

t.test('a login or a name several had: the newest of each, merged, page by page', async (t) => {
  const tdb = await testDatabase(t)
  // The login octo-org named account 200, then 201; three of their repositories were called docs.
  const written: number[] = []
  for (let i = 0; i < 12; i++) {
    const target = { ownerId: 200 + (i % 2), ownerLogin: 'octo-org', repoId: 3000 + (i % 3), repoName: 'docs' }
    written.push((await appendAudit(tdb.db, { actor: system, action: i === 5 ? 'hook_delete_attempted' : 'hook_cleanup', target, outcome: 'removed' })).id)
  }
  const newestFirst = [...written].reverse()
  const filters: [AuditFilter, number[]][] = [
    [{ owner: 'octo-org' }, newestFirst],
    [{ repo: 'docs' }, newestFirst],
    [{ owner: 'octo-org', repo: 'octo-org/docs' }, newestFirst],
    [{ repo: 'docs', action: 'hook_cleanup' }, newestFirst.filter((id) => id !== written[5])],
  ]
  for (const [filter, expected] of filters) {
    t.same((await searchAudit(tdb.db, filter, { limit: 100 })).events.map((e) => e.id), expected, `${JSON.stringify(filter)}: one page`)
    const seen: number[] = []
    let before: number | undefined
    for (;;) {
      const page = await searchAudit(tdb.db, filter, { limit: 5, ...(before === undefined ? {} : { before }) })
      seen.push(...page.events.map((e) => e.id))
      if (page.next === undefined) break
      before = page.next
    }
    t.same(seen, expected, `${JSON.stringify(filter)}: pages of 5`)
  }
})

t.test('a name that very many repositories had: alone it asks for the owner; with one, or as a login many accounts had, it pages', async (t) => {
  const tdb = await testDatabase(t)
  const written: number[] = []
  // 60 accounts, one after another, under the login "shared", each with a repository "site".
  for (let r = 0; r < 60; r++) {
    written.push((await appendAudit(tdb.db, { actor: system, action: 'repo_added', target: { ownerId: 300 + r, ownerLogin: 'shared', repoId: 4000 + r, repoName: 'site' }, outcome: 'ok' })).id)
  }
  t.same(await searchAudit(tdb.db, { repo: 'site' }, { limit: 50 }), { events: [], ambiguous: { name: 'site' } })
  for (const filter of [{ repo: 'shared/site' }, { owner: 'shared' }]) {
    const page = await searchAudit(tdb.db, filter, { limit: 50 })
    t.same(page.events.map((e) => e.id), [...written].reverse().slice(0, 50), JSON.stringify(filter))
    t.equal(page.next, written[10])
  }
  t.equal((await searchAudit(tdb.db, { repo: '4001' }, { limit: 50 })).events.length, 1, 'by id, as ever')
})

t.test('one event whole, and where it sits in the chain once sealed', async (t) => {
  const { tdb, ids } = await seeded(t)
  const event = await auditEvent(tdb.db, ids[4]!)
  t.match(event, { action: 'hook_cleanup', outcome: 'needs_manual', reason: 'the legacy token was revoked', hook_id: 5101, seq: null, hash: null })
  // Waiting out other tests' transactions on this server, which hold sealing back for a moment.
  await sealPending(tdb.db, 10_000)
  t.match(await auditEvent(tdb.db, ids[4]!), { seq: Number, hash: /^[0-9a-f]{64}$/ })
  t.equal(await auditEvent(tdb.db, 999_999), undefined)
})
