import pg from 'pg'
import t from 'tap'
import { runCli } from '../../../src/cli/main.js'
import { appendAudit } from '../../../src/migration/audit.js'
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

  const noUrl = captureIo({})
  t.equal(await runCli(['audit:verify'], noUrl), 2)
  t.match(noUrl.stderr.text, 'DATABASE_URL is required')
})
