import pg from 'pg'
import t from 'tap'
import { runCli } from '../../../src/cli/main.js'
import { appendAudit, sealPending } from '../../../src/migration/audit.js'
import { captureIo } from '../../helpers/cli-io.js'
import { testDatabase } from '../../helpers/database.js'

t.test('audit:verify says intact with a count, or names the first broken event', async (t) => {
  const tdb = await testDatabase(t)
  for (let i = 0; i < 3; i++) await appendAudit(tdb.db, { actor: { kind: 'system' }, action: 'webhook_received', outcome: 'ok' })
  const ok = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:verify'], ok), 0)
  t.match(ok.stdout.text, /audit log of .* is intact: 3 events checked\n/)

  const client = new pg.Client({ connectionString: tdb.url })
  await client.connect()
  await client.query('set session_replication_role = replica')
  await client.query("update app.audit_event set outcome = 'failed' where id = 2")
  await client.end()
  const broken = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:verify'], broken), 1)
  t.match(broken.stderr.text, /is broken at event #2: its content does not match its hash/)

  const badWait = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:verify', '--wait', 'soon'], badWait), 2)
  t.match(badWait.stderr.text, '--wait must be a number of seconds, 0 or more, not "soon"')

  const noUrl = captureIo({})
  t.equal(await runCli(['audit:verify'], noUrl), 2)
  t.match(noUrl.stderr.text, 'DATABASE_URL is required')
})

t.test('audit:verify seals what the service left, and counts what an open transaction still holds back', async (t) => {
  const tdb = await testDatabase(t)
  await appendAudit(tdb.db, { actor: { kind: 'system' }, action: 'sign_in', outcome: 'ok' })
  // Sealed first, waiting out other tests' transactions on this server: with --wait 0 below,
  // only this test's open transaction holds events back.
  await sealPending(tdb.db, 10_000)
  const open = new pg.Client({ connectionString: tdb.url })
  await open.connect()
  t.teardown(() => open.end())
  await open.query('begin')
  await open.query('select pg_current_xact_id()')
  for (let i = 0; i < 2; i++) await appendAudit(tdb.db, { actor: { kind: 'system' }, action: 'webhook_received', outcome: 'ok' })

  const held = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:verify', '--wait', '0'], held), 0)
  t.match(held.stdout.text, /is intact: 1 events checked; not checked, awaiting sealing because a transaction that began before theirs is still open: 2\n/)

  await open.query('commit')
  const done = captureIo({ DATABASE_URL: tdb.url })
  t.equal(await runCli(['audit:verify'], done), 0)
  t.match(done.stdout.text, /is intact: 3 events checked\n/)
})
