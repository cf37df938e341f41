import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql, type Kysely } from 'kysely'
import { FileMigrationProvider, Migrator } from 'kysely/migration'
import t from 'tap'
import { testDatabase } from '../helpers/database.js'

// Batches written under the five columns read the same under the one state (migration 0014),
// and back again.

const BEFORE = '0013-add-pieces'

/** status, installation, adding, add_path, add_path_reason, coverage_problem → state, reason. */
const cases = [
  ['planned', null, false, null, null, null, 'planned', null],
  ['planned', null, false, null, null, 'GitHub did not say whether the App is installed on o2: look again in a moment.', 'planned', 'GitHub did not say whether the App is installed on o2: look again in a moment.'],
  ['link_issued', null, false, null, null, null, 'link_issued', null],
  ['request_pending', null, false, null, null, null, 'request_pending', null],
  ['installed', 500, false, 'api', null, null, 'installed', null],
  ['installed', 500, true, 'api', null, null, 'adding', null],
  ['installed', 500, false, 'settings_page', 'GitHub refused the token.', null, 'add_refused', 'GitHub refused the token.'],
  ['installed', 500, false, null, null, 'The App is suspended.', 'blocked', 'The App is suspended.'],
] as const

t.test('every combination the old columns held becomes its state, with what a person reads, and goes back', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const migrator = new Migrator({
    db: tdb.db as Kysely<unknown>,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: fileURLToPath(new URL('../../migrations', import.meta.url)) }),
    migrationTableSchema: 'app',
  })
  const to = async (name: string) => {
    const { error } = await migrator.migrateTo(name)
    if (error !== undefined) throw error
  }
  await to(BEFORE)
  await sql`insert into app.inventory (user_id, user_login, planned_at) values (1, 'mona', now())`.execute(tdb.db)
  for (const [i, [status, installation, adding, addPath, addReason, problem]] of cases.entries()) {
    await sql`insert into app.batch (user_id, owner_id, owner_login, owner_type, role, action, hidden_repos, status, installation_id, adding, add_path, add_path_reason, coverage_problem)
      values (1, ${i + 1}, ${`o${i + 1}`}, 'User', 'owner', 'install', 0, ${status}, ${installation}, ${adding}, ${addPath}, ${addReason}, ${problem})`.execute(tdb.db)
  }
  await to('0014-batch-state')
  const after = await sql<{ state: string; state_reason: string | null }>`select state, state_reason from app.batch order by owner_id`.execute(tdb.db)
  t.same(
    after.rows.map((r) => [r.state, r.state_reason]),
    cases.map((c) => [c[6], c[7]]),
  )
  await t.rejects(sql`update app.batch set state = 'installed' where installation_id is null`.execute(tdb.db), /batch_state_installation_check/, 'no installed state without an installation')
  await t.rejects(sql`update app.batch set state = 'covered_maybe'`.execute(tdb.db), /batch_state_check/)

  await to(BEFORE)
  const back = await sql`select status, installation_id, adding, add_path, add_path_reason, coverage_problem from app.batch order by owner_id`.execute(tdb.db)
  t.same(
    back.rows,
    cases.map(([status, installation, adding, addPath, addReason, problem]) => ({
      status,
      installation_id: installation,
      adding,
      // What the old columns did not need (the API path of a finished run) is not made up.
      add_path: addPath === 'settings_page' ? addPath : null,
      add_path_reason: addReason,
      coverage_problem: problem,
    })),
  )
})
