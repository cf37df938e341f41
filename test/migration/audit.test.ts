import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { appendAudit, verifyAuditChain, type AuditEvent } from '../../src/migration/audit.js'
import { testDatabase, withDatabase, type TestDatabase } from '../helpers/database.js'

const signIn: AuditEvent = {
  actor: { kind: 'user', githubId: 1, login: 'mona' },
  action: 'sign_in',
  outcome: 'ok',
  requestId: 'req-1',
}

async function append(tdb: TestDatabase, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await appendAudit(tdb.db, {
      ...signIn,
      action: 'hook_removed',
      target: { ownerId: 100, ownerLogin: 'acme', repoId: 1100 + i, repoName: `repo-${i}`, hookId: 5100 + i, installationId: 7 },
      outcome: 'removed',
      reason: 'covered by installation 7',
      detail: { attempt: 1, note: 'ünïcode "quoted" \\ and \n newline' },
    })
  }
}

// The superuser can switch triggers off for its session: how someone with full access would
// tamper, and what audit:verify must catch.
async function asSuperuserWithoutTriggers(tdb: TestDatabase, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: tdb.url })
  await client.connect()
  try {
    await client.query('set session_replication_role = replica')
    await client.query(statement)
  } finally {
    await client.end()
  }
}

t.test('events get consecutive ids, times, and a chain that verifies', async (t) => {
  const tdb = await testDatabase(t)
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 0 }, 'an empty log is intact')
  const first = await appendAudit(tdb.db, signIn)
  await append(tdb, 3)
  t.equal(first.id, 1)
  const rows = await tdb.db.selectFrom('app.audit_event').selectAll().orderBy('id').execute()
  t.same(rows.map((r) => r.id), [1, 2, 3, 4])
  t.same(rows[0]!.prev_hash, Buffer.alloc(32), 'the first event links to zeros')
  t.same(rows[1]!.prev_hash, rows[0]!.hash, 'each event links to the one before')
  t.match(rows[1], { actor_kind: 'user', actor_github_id: 1, actor_login: 'mona', owner_login: 'acme', repo_id: 1100, hook_id: 5100, installation_id: 7, outcome: 'removed', detail: { attempt: 1 } })
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 4 })
})

t.test('concurrent writers still make one chain', async (t) => {
  const tdb = await testDatabase(t)
  const other = connect(tdb.url, { max: 4 })
  t.teardown(() => other.close())
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? tdb.db : other.db).transaction().execute(async (trx) => {
        await appendAudit(trx, { ...signIn, requestId: `req-${i}` })
        await sql`select pg_sleep(0.005)`.execute(trx)
      }),
    ),
  )
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 20 })
})

t.test('an event rolled back with its transaction leaves no trace', async (t) => {
  const tdb = await testDatabase(t)
  await appendAudit(tdb.db, signIn)
  await t.rejects(
    tdb.db.transaction().execute(async (trx) => {
      await appendAudit(trx, { ...signIn, action: 'batch_planned' })
      throw new Error('the change failed')
    }),
  )
  await appendAudit(tdb.db, { ...signIn, action: 'sign_out' })
  const actions = (await tdb.db.selectFrom('app.audit_event').select(['id', 'action']).orderBy('id').execute())
  t.same(actions, [{ id: 1, action: 'sign_in' }, { id: 2, action: 'sign_out' }])
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 2 })
})

t.test('UPDATE, DELETE and TRUNCATE are refused, even to a superuser', async (t) => {
  const tdb = await testDatabase(t)
  await append(tdb, 2)
  for (const statement of ["update app.audit_event set reason = 'nothing happened'", 'delete from app.audit_event', 'truncate app.audit_event']) {
    await t.rejects(sql.raw(statement).execute(tdb.db), { message: /append-only/ }, statement)
  }
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 2 })
})

t.test('the role that owns the tables may not UPDATE, DELETE or TRUNCATE either', async (t) => {
  const tdb = await testDatabase(t, { migrate: false })
  const role = `o2a_owner_${randomBytes(4).toString('hex')}`
  await sql.raw(`create role ${role} login; grant all on database ${tdb.name} to ${role}; grant create on schema public to ${role}`).execute(tdb.db)
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: tdb.url })
    await admin.connect()
    await admin.query(`drop owned by ${role}; drop role ${role}`).catch(() => {})
    await admin.end()
  })
  const url = new URL(tdb.url)
  url.username = role
  const owner = connect(withDatabase(url.toString(), tdb.name), { max: 1 })
  await migrateToLatest(owner.db)
  await appendAudit(owner.db, signIn)
  for (const statement of ["update app.audit_event set reason = 'x'", 'delete from app.audit_event', 'truncate app.audit_event']) {
    await t.rejects(sql.raw(statement).execute(owner.db), { message: /permission denied/ }, statement)
  }
  await owner.close()
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 1 })
})

t.test('tampering by a superuser is found, at the first broken event', async (t) => {
  const changed = await testDatabase(t)
  await append(changed, 5)
  await asSuperuserWithoutTriggers(changed, "update app.audit_event set reason = 'nothing was removed' where id = 3")
  t.same(await verifyAuditChain(changed.db), { intact: false, events: 5, brokenAt: 3, reason: 'its content does not match its hash (changed after it was written)' })

  const removed = await testDatabase(t)
  await append(removed, 5)
  await asSuperuserWithoutTriggers(removed, 'delete from app.audit_event where id = 2')
  t.same(await verifyAuditChain(removed.db), { intact: false, events: 4, brokenAt: 3, reason: 'the event before it (#2) is missing' })

  const relinked = await testDatabase(t)
  await append(relinked, 3)
  await asSuperuserWithoutTriggers(relinked, "update app.audit_event set prev_hash = sha256('forged') where id = 2")
  t.same(await verifyAuditChain(relinked.db), { intact: false, events: 3, brokenAt: 2, reason: 'its link to the event before it does not match' })

  const first = await testDatabase(t)
  await append(first, 2)
  await asSuperuserWithoutTriggers(first, 'delete from app.audit_event where id = 1')
  t.match(await verifyAuditChain(first.db), { intact: false, brokenAt: 2, reason: 'the event before it (#1) is missing' })
})

t.test('an event carrying a token is refused before it reaches the log', async (t) => {
  const tdb = await testDatabase(t)
  // Built at run time so that no scanner for committed secrets mistakes these for real ones.
  const tokens = [['gho', 'abcdefghijklmnopqrstuvwxyz0123456789'], ['ghs', '16C7e42F292c6912E7710c838347Ae178B4a'], ['github_pat', '11ABCDEFG0123456789_abcdefghijklmnop']].map((p) => p.join('_'))
  for (const token of tokens) {
    await t.rejects(appendAudit(tdb.db, { ...signIn, detail: { oops: `token ${token}` } }), { name: 'AuditSecretError' })
  }
  await t.rejects(appendAudit(tdb.db, { ...signIn, reason: 'gho_legacy_mona_0001 was used' }), { name: 'AuditSecretError' })
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 0 })
})
