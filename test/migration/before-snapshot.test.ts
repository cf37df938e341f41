import { sql, type Kysely } from 'kysely'
import t from 'tap'
import type { Database } from '../../src/db/database.js'
import { freezeAll, freezeUser, snapshotCounts } from '../../src/migration/before-snapshot.js'
import { testDatabase } from '../helpers/database.js'

// "Before" is frozen the first time the service has reason to, and never changes after.

async function seed(db: Kysely<Database>): Promise<void> {
  await db.insertInto('legacy.oauth_users').values([{ github_user_id: 1, login: 'mona', oauth_token: null, scopes: null }, { github_user_id: 2, login: 'hubot', oauth_token: null, scopes: null }]).execute()
  const hook = (hookId: number, userId: number, repoId: number, name: string) => ({
    github_user_id: userId, kind: 'repo' as const, owner_id: 100, owner_login: 'acme', owner_type: 'Organization' as const, repo_id: repoId, repo_name: name, hook_id: hookId, hook_url: 'https://ci.example.com/hooks/github', created_at: '2018-05-01T10:00:00Z',
  })
  await db.insertInto('legacy.webhooks').values([hook(5100, 1, 1100, 'api'), hook(5101, 2, 1101, 'web'), hook(5102, 1, 1102, 'vault')]).execute()
}

const frozen = (db: Kysely<Database>) => db.selectFrom('app.before_snapshot').select(['hook_id', 'repo_name', 'hook_url', 'enabled_by_login']).orderBy('hook_id').execute()

t.test("a user's hooks are frozen once: what the vendor changes later does not reach them", async (t) => {
  const { db } = await testDatabase(t)
  await seed(db)
  t.equal(await freezeUser(db, 1), 2)
  t.same(await frozen(db), [
    { hook_id: 5100, repo_name: 'api', hook_url: 'https://ci.example.com/hooks/github', enabled_by_login: 'mona' },
    { hook_id: 5102, repo_name: 'vault', hook_url: 'https://ci.example.com/hooks/github', enabled_by_login: 'mona' },
  ])
  await sql`update legacy.webhooks set repo_name = 'renamed', hook_url = 'https://elsewhere.example/'`.execute(db)
  t.equal(await freezeUser(db, 1), 0, 'a second sign-in freezes nothing new')
  t.same((await frozen(db)).map((r) => r.repo_name), ['api', 'vault'], 'still as first seen')
  t.same(await snapshotCounts(db), { frozen: 2, unfrozen: 1 })
})

t.test('report:snapshot freezes the rest, on the record; a frozen row cannot be changed, removed or truncated', async (t) => {
  const { db } = await testDatabase(t)
  await seed(db)
  await freezeUser(db, 2)
  const actor = { kind: 'system' as const, login: 'oauth-to-app report:snapshot' }
  t.same(await freezeAll(db, actor), { added: 2, frozen: 3 })
  t.same(await freezeAll(db, actor), { added: 0, frozen: 3 })
  t.same(await snapshotCounts(db), { frozen: 3, unfrozen: 0 })
  const events = await db.selectFrom('app.audit_event').select(['actor_login', 'detail']).where('action', '=', 'before_snapshot').orderBy('id').execute()
  t.same(events, [{ actor_login: 'oauth-to-app report:snapshot', detail: { added: 2, frozen: 3 } }, { actor_login: 'oauth-to-app report:snapshot', detail: { added: 0, frozen: 3 } }])
  for (const statement of [sql`update app.before_snapshot set hook_url = 'x'`, sql`delete from app.before_snapshot where hook_id = 5100`, sql`truncate app.before_snapshot`]) {
    await t.rejects(statement.execute(db), { message: /app\.before_snapshot is frozen: (UPDATE|DELETE|TRUNCATE) is not allowed/ })
  }
  t.equal((await frozen(db)).length, 3)
})
