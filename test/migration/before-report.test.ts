import { Writable } from 'node:stream'
import { sql, type Kysely } from 'kysely'
import t from 'tap'
import type { Database } from '../../src/db/database.js'
import { ownerIdsOf, reportCopy, reportStream, writeReport, type ReportFormat, type ReportScope } from '../../src/migration/before-report.js'
import { freezeAll } from '../../src/migration/before-snapshot.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// The report's text: what a spreadsheet, a JSON reader and a hostile name make of it.

/** Names anyone can choose on GitHub or in the vendor's records, and a formula or two. */
async function seedHostile(db: Kysely<Database>): Promise<void> {
  await db.insertInto('legacy.oauth_users').values([{ github_user_id: 1, login: '=HYPERLINK("http://evil.example")', oauth_token: null, scopes: null }]).execute()
  const hook = (hookId: number, ownerLogin: string, repoId: number, name: string, url: string) => ({
    github_user_id: 1, kind: 'repo' as const, owner_id: 100 + hookId, owner_login: ownerLogin, owner_type: 'User' as const, repo_id: repoId, repo_name: name, hook_id: hookId, hook_url: url, created_at: null,
  })
  await db
    .insertInto('legacy.webhooks')
    .values([
      hook(1, '+sum', 11, '-minus', '@at'),
      hook(2, 'plain', 12, 'line\r\nbreak, "quoted"', '\tTab'),
      hook(3, 'back\\slash', 13, 'naïve ☃', '=1+1'),
    ])
    .execute()
}

class Collect extends Writable {
  text = ''
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString()
    done()
  }
}

async function report(tdb: TestDatabase, format: ReportFormat, scope: ReportScope = { kind: 'all' }): Promise<{ rows: number; text: string }> {
  const out = new Collect()
  const rows = await writeReport(tdb.pool, scope, format, out, { end: true })
  return { rows, text: out.text }
}

t.test('CSV: a cell a spreadsheet would run starts with an apostrophe; line breaks and quotes stay inside their cell', async (t) => {
  const tdb = await testDatabase(t)
  await seedHostile(tdb.db)
  const { rows, text } = await report(tdb, 'csv')
  t.equal(rows, 3)
  const lines = text.split('\n')
  t.equal(lines[1], `'+sum,101,User,repo,'+sum/-minus,11,1,'@at,"'=HYPERLINK(""http://evil.example"")",1,,,active,,,,,,`)
  t.equal(lines[2], 'back\\slash,103,User,repo,back\\slash/naïve ☃,13,3,\'=1+1,"\'=HYPERLINK(""http://evil.example"")",1,,,active,,,,,,')
  t.equal(lines.slice(3).join('\n'), `plain,102,User,repo,"plain/line\r\nbreak, ""quoted""",12,2,'\tTab,"'=HYPERLINK(""http://evil.example"")",1,,,active,,,,,,\n`)
})

t.test('NDJSON: one JSON object a line, every name exactly as recorded (no apostrophes: JSON is not run)', async (t) => {
  const tdb = await testDatabase(t)
  await seedHostile(tdb.db)
  await freezeAll(tdb.db, { kind: 'system' })
  const { rows, text } = await report(tdb, 'ndjson')
  t.equal(rows, 3)
  const lines = text.trimEnd().split('\n')
  t.equal(lines.length, 3, 'a line break in a name is escaped, not written')
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  t.same(parsed.map((p) => [p['owner'], p['repository'], p['hook_url'], p['enabled_by']]), [
    ['+sum', '+sum/-minus', '@at', '=HYPERLINK("http://evil.example")'],
    ['back\\slash', 'back\\slash/naïve ☃', '=1+1', '=HYPERLINK("http://evil.example")'],
    ['plain', 'plain/line\r\nbreak, "quoted"', '\tTab', '=HYPERLINK("http://evil.example")'],
  ])
  t.match(parsed[0], { owner_id: 101, hook_id: 1, enabled_at: null, frozen_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, status: 'active' })
})

t.test('an owner by any login it had or by id; a batch scope that names no batch lists nothing', async (t) => {
  const tdb = await testDatabase(t)
  await seedHostile(tdb.db)
  await freezeAll(tdb.db, { kind: 'system' })
  await sql`update legacy.webhooks set owner_login = 'renamed' where hook_id = 2`.execute(tdb.db)
  t.same(await ownerIdsOf(tdb.db, 'PLAIN'), [102], 'the login it had when frozen')
  t.same(await ownerIdsOf(tdb.db, 'renamed'), [102], 'and the one the vendor has now')
  t.same(await ownerIdsOf(tdb.db, ' 102 '), [102])
  t.same(await ownerIdsOf(tdb.db, '999'), [])
  t.same(await ownerIdsOf(tdb.db, 'nobody'), [])
  t.equal((await report(tdb, 'csv', { kind: 'owner', ownerIds: [102] })).rows, 1)
  t.equal((await report(tdb, 'csv', { kind: 'owner', ownerIds: [] })).rows, 0)
  t.equal((await report(tdb, 'ndjson', { kind: 'batch', batchId: 1 })).text, '')
})

t.test('only whole numbers reach the COPY text', async (t) => {
  t.throws(() => reportCopy({ kind: 'owner', ownerIds: [1, 2.5] }, 'csv'), { message: 'not an id: 2.5' })
  t.throws(() => reportCopy({ kind: 'batch', batchId: -1 }, 'csv'), { message: 'not an id: -1' })
  t.match(reportCopy({ kind: 'owner', ownerIds: [7, 8] }, 'csv'), /h\.owner_id in \(7,8\)/)
})

t.test("a failed COPY is the caller's error, and its connection is not reused", async (t) => {
  const tdb = await testDatabase(t)
  await seedHostile(tdb.db)
  const failing = new Writable({ write: (_chunk, _encoding, done) => done(new Error('disk full')) })
  await t.rejects(writeReport(tdb.pool, { kind: 'all' }, 'csv', failing, { end: true }), { message: 'disk full' })
  t.equal((await report(tdb, 'csv')).rows, 3, 'the pool still serves')
  // A download dropped half-way (the browser closed): its connection is closed, not returned mid-COPY.
  const stream = await reportStream(tdb.pool, { kind: 'all' }, 'csv')
  stream.destroy()
  await new Promise((resolve) => stream.once('close', resolve))
  t.equal((await report(tdb, 'ndjson')).rows, 3)
  const whole = await reportStream(tdb.pool, { kind: 'all' }, 'ndjson')
  let text = ''
  for await (const chunk of whole) text += String(chunk)
  t.equal(text.trimEnd().split('\n').length, 3)
  t.equal(tdb.pool.totalCount - tdb.pool.idleCount, 0, 'every connection back or closed')
})
