import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import pg from 'pg'
import t from 'tap'
import { connect } from '../../src/db/connect.js'
import { migrateToLatest } from '../../src/db/migrator.js'
import { appendAudit, sealAudit, sealPending, verifyAuditChain, type AuditEvent } from '../../src/migration/audit.js'
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

/** Each event in the order written, with its place in the chain (null until sealed). */
async function chained(tdb: TestDatabase): Promise<{ id: number; action: string; seq: number | null; prev_hash: Buffer | null; hash: Buffer | null }[]> {
  return tdb.db
    .selectFrom('app.audit_event as e')
    .leftJoin('app.audit_chain as c', 'c.event_id', 'e.id')
    .select(['e.id', 'e.action', 'c.seq', 'c.prev_hash', 'c.hash'])
    .orderBy('e.id')
    .execute()
}

/** Seals every event (waiting out other tests' transactions on the same server) and checks the chain. */
async function sealedCheck(tdb: TestDatabase): Promise<Awaited<ReturnType<typeof verifyAuditChain>>> {
  await sealPending(tdb.db, 10_000)
  return verifyAuditChain(tdb.db)
}

t.test('events are readable at once in the order written, then sealed into a chain that verifies', async (t) => {
  const tdb = await testDatabase(t)
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 0, pending: 0 }, 'an empty log is intact')
  const first = await appendAudit(tdb.db, signIn)
  await append(tdb, 3)
  t.equal(first.id, 1)
  t.same((await chained(tdb)).map((r) => [r.id, r.action, r.seq, r.hash]), [[1, 'sign_in', null, null], [2, 'hook_removed', null, null], [3, 'hook_removed', null, null], [4, 'hook_removed', null, null]])
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 0, pending: 4 }, 'unsealed events are counted, not checked')

  t.same(await sealedCheck(tdb), { intact: true, events: 4, pending: 0 })
  const rows = await chained(tdb)
  t.same(rows.map((r) => r.seq), [1, 2, 3, 4], 'sealed in the order written')
  t.same(rows[0]!.prev_hash, Buffer.alloc(32), 'the first event links to zeros')
  t.same(rows[1]!.prev_hash, rows[0]!.hash, 'each event links to the one before')
  t.match(await tdb.db.selectFrom('app.audit_event').selectAll().where('id', '=', 2).executeTakeFirst(), { actor_kind: 'user', actor_github_id: 1, actor_login: 'mona', owner_login: 'acme', repo_id: 1100, hook_id: 5100, installation_id: 7, outcome: 'removed', detail: { attempt: 1 } })
  t.same(await sealAudit(tdb.db), { sealed: 0, pending: 0, busy: false }, 'nothing left to seal')
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
  t.same(await sealedCheck(tdb), { intact: true, events: 20, pending: 0 })
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
  t.same(await sealedCheck(tdb), { intact: true, events: 2, pending: 0 })
  const actions = (await chained(tdb)).map((r) => ({ seq: r.seq, action: r.action }))
  t.same(actions, [{ seq: 1, action: 'sign_in' }, { seq: 2, action: 'sign_out' }], 'no gap in the chain where the event was rolled back')
})

t.test('an event waits for every transaction that began before its own, then takes its place after theirs', async (t) => {
  const tdb = await testDatabase(t)
  const older = new pg.Client({ connectionString: tdb.url })
  await older.connect()
  t.teardown(() => older.end())
  await older.query('begin')
  await older.query("insert into app.audit_event (actor_kind, action, outcome) values ('system', 'begun_first', 'ok')")
  await appendAudit(tdb.db, { ...signIn, action: 'committed_first' })

  t.same(await sealAudit(tdb.db), { sealed: 0, pending: 1, busy: false }, 'held back while the older transaction is open')
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 0, pending: 1 })
  await older.query('commit')
  t.same(await sealedCheck(tdb), { intact: true, events: 2, pending: 0 })
  const rows = (await chained(tdb)).map((r) => ({ seq: r.seq, action: r.action })).sort((a, b) => a.seq! - b.seq!)
  t.same(rows, [{ seq: 1, action: 'begun_first' }, { seq: 2, action: 'committed_first' }], 'chained in order of the transactions that wrote them')
})

t.test('one sealer at a time: another finds it busy, and many at once seal each event once', async (t) => {
  const tdb = await testDatabase(t)
  await append(tdb, 5)
  const holder = new pg.Client({ connectionString: tdb.url })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('begin')
  await holder.query("select pg_advisory_xact_lock(hashtext('oauth-to-app audit seal'))")
  t.same(await sealAudit(tdb.db), { sealed: 0, pending: 5, busy: true })
  await holder.query('commit')

  // Other tests' transactions on this server hold back the events written after they began (a
  // CI run once saw one of the two sealed): batches of two until all five are, none larger.
  const batches: number[] = []
  for (let pending = 5; pending > 0; ) {
    const some = await sealAudit(tdb.db, 2)
    t.same(some, { sealed: some.sealed, pending: pending - some.sealed, busy: false })
    if (some.sealed > 0) batches.push(some.sealed)
    else await new Promise((resolve) => setTimeout(resolve, 5))
    pending = some.pending
  }
  t.ok(batches.every((n) => n <= 2), `at most the batch asked for: ${batches.join(', ')}`)
  await append(tdb, 40)
  const sealers = Array.from({ length: 4 }, () => connect(tdb.url, { max: 2 }))
  t.teardown(() => Promise.all(sealers.map((s) => s.close())))
  const results = await Promise.all(sealers.flatMap((s) => [sealPending(s.db, 10_000, { pauseMs: 1 }), sealPending(s.db, 10_000, { pauseMs: 1 })]))
  t.equal(results.reduce((sum, r) => sum + r.sealed, 0), 40, 'every event sealed exactly once')
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 45, pending: 0 })
})

t.test('UPDATE, DELETE and TRUNCATE of events and of their chain are refused, even to a superuser', async (t) => {
  const tdb = await testDatabase(t)
  await append(tdb, 3)
  const refused = ["update app.audit_event set reason = 'nothing happened'", 'delete from app.audit_event', 'truncate app.audit_event']
  for (const statement of refused) {
    await t.rejects(sql.raw(statement).execute(tdb.db), { message: /append-only/ }, `unsealed: ${statement}`)
  }
  await t.rejects(sql`insert into app.audit_chain (seq, event_id) values (2, 2)`.execute(tdb.db), { message: /position 2 does not follow the last one/ }, 'a position out of turn')
  // Sealing by hand takes the position asked for; the link and hash are the database's, not the caller's.
  await sql`insert into app.audit_chain (seq, event_id, prev_hash, hash) values (1, 1, sha256('forged'), sha256('forged'))`.execute(tdb.db)
  await t.rejects(sql`insert into app.audit_chain (seq, event_id) values (2, 1)`.execute(tdb.db), { message: /duplicate key/ }, 'an event sealed twice')
  t.same(await sealedCheck(tdb), { intact: true, events: 3, pending: 0 })

  const chain = ["update app.audit_chain set hash = sha256('forged')", 'update app.audit_chain set seq = seq + 10', 'delete from app.audit_chain', 'truncate app.audit_chain']
  for (const statement of [...refused, ...chain]) {
    await t.rejects(sql.raw(statement).execute(tdb.db), { message: /append-only/ }, `sealed: ${statement}`)
  }
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 3, pending: 0 })
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
  // Waiting out other tests' transactions on this server, which hold sealing back for a moment.
  t.same(await sealPending(owner.db, 10_000), { sealed: 1, pending: 0, busy: false }, 'it seals')
  for (const statement of ["update app.audit_chain set hash = sha256('x')", 'delete from app.audit_chain', 'truncate app.audit_chain']) {
    await t.rejects(sql.raw(statement).execute(owner.db), { message: /permission denied/ }, statement)
  }
  await owner.close()
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 1, pending: 0 })
})

t.test('tampering by a superuser is found, at the first broken event', async (t) => {
  const changed = await testDatabase(t)
  await append(changed, 5)
  await sealPending(changed.db, 10_000)
  await asSuperuserWithoutTriggers(changed, "update app.audit_event set reason = 'nothing was removed' where id = 3")
  t.same(await verifyAuditChain(changed.db), { intact: false, events: 5, pending: 0, brokenAt: 3, reason: 'its content does not match its hash (changed after it was written)' })

  const removed = await testDatabase(t)
  await append(removed, 5)
  await sealPending(removed.db, 10_000)
  await asSuperuserWithoutTriggers(removed, 'delete from app.audit_event where id = 2')
  t.same(await verifyAuditChain(removed.db), { intact: false, events: 5, pending: 0, brokenAt: 2, reason: 'its event (id 2) is missing' })

  const unchained = await testDatabase(t)
  await append(unchained, 5)
  await sealPending(unchained.db, 10_000)
  await asSuperuserWithoutTriggers(unchained, 'delete from app.audit_chain where seq = 2')
  t.same(await verifyAuditChain(unchained.db), { intact: false, events: 4, pending: 0, brokenAt: 3, reason: 'the event before it (#2) is missing' })

  const relinked = await testDatabase(t)
  await append(relinked, 3)
  await sealPending(relinked.db, 10_000)
  await asSuperuserWithoutTriggers(relinked, "update app.audit_chain set prev_hash = sha256('forged') where seq = 2")
  t.same(await verifyAuditChain(relinked.db), { intact: false, events: 3, pending: 0, brokenAt: 2, reason: 'its link to the event before it does not match' })

  const first = await testDatabase(t)
  await append(first, 2)
  await sealPending(first.db, 10_000)
  await asSuperuserWithoutTriggers(first, 'delete from app.audit_chain where seq = 1')
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
  t.same(await verifyAuditChain(tdb.db), { intact: true, events: 0, pending: 0 })
})
