import t, { type Test } from 'tap'
import { appendAudit } from '../../src/migration/audit.js'
import { findSubjects } from '../../src/migration/finder.js'
import { testDatabase, type TestDatabase } from '../helpers/database.js'

// What the console's search box makes of what a customer pastes, against records made
// directly: a user who planned (inventory, a batch), legacy hooks, and events only.

const system = { kind: 'system' as const }

async function records(t: Test): Promise<TestDatabase> {
  const tdb = await testDatabase(t)
  const { db } = tdb
  await db.insertInto('app.inventory').values({ user_id: 7, user_login: 'Dev', planned_at: new Date(), gone: '[]' }).execute()
  const batch = await db
    .insertInto('app.batch')
    .values({ user_id: 7, owner_id: 300, owner_login: 'globex', owner_type: 'Organization', role: 'owner', action: 'install', hidden_repos: 0, installation_id: null, coverage_checked_at: null })
    .returning('id')
    .executeTakeFirstOrThrow()
  await db
    .insertInto('app.batch_repo')
    .values({ batch_id: batch.id, repo_id: 3000, repo_name: 'planned-only', private: false, moved: false, enabled_by: ['Dev'], hook_ids: [9000], coverage: 'unknown', moved_to: null, add_state: null, add_reason: null })
    .execute()
  await db
    .insertInto('legacy.webhooks')
    .values([
      { github_user_id: 8, kind: 'repo', owner_id: 400, owner_login: 'initech', owner_type: 'Organization', repo_id: 4000, repo_name: 'tps', hook_id: 9100, hook_url: 'https://ci.example.com/hooks/github', created_at: '2020-01-01T00:00:00Z' },
      { github_user_id: 8, kind: 'org', owner_id: 400, owner_login: 'initech', owner_type: 'Organization', repo_id: null, repo_name: null, hook_id: 9101, hook_url: 'https://ci.example.com/hooks/github', created_at: '2020-01-01T00:00:00Z' },
      { github_user_id: 8, kind: 'repo', owner_id: 500, owner_login: 'nobody-knows', owner_type: 'Organization', repo_id: 5000, repo_name: 'quiet', hook_id: 9200, hook_url: 'https://ci.example.com/hooks/github', created_at: '2020-01-01T00:00:00Z' },
    ])
    .execute()
  await appendAudit(db, { actor: system, action: 'coverage_checked', target: { ownerId: 400, ownerLogin: 'initech', repoId: 4000, repoName: 'tps' }, outcome: 'covered' })
  // Account 7 is also an owner that events name.
  await appendAudit(db, { actor: system, action: 'coverage_checked', target: { ownerId: 7, ownerLogin: 'Dev' }, outcome: 'covered' })
  return tdb
}

t.test('numbers: a legacy hook, then a repository, a user and an account of that id', async (t) => {
  const { db } = await records(t)
  t.same(await findSubjects(db, '9100'), [{ kind: 'repo', id: 4000, name: 'initech/tps' }], "a hook without a task: the vendor's record names its repository")
  t.same(await findSubjects(db, '9101'), [{ kind: 'owner', id: 400, login: 'initech' }], 'an organization hook: its account')
  t.same(await findSubjects(db, '9000'), [], 'a number nothing recorded knows')
  t.same(await findSubjects(db, '9200'), [], 'a hook whose repository nothing here names yet')
  t.same(await findSubjects(db, '3000'), [{ kind: 'repo', id: 3000, name: 'globex/planned-only' }])
  t.same(await findSubjects(db, ' 7 '), [
    { kind: 'user', id: 7, login: 'Dev' },
    { kind: 'owner', id: 7, login: 'Dev' },
  ])
})

t.test('names and addresses', async (t) => {
  const { db } = await records(t)
  t.same(await findSubjects(db, 'GLOBEX/planned-only'), [{ kind: 'repo', id: 3000, name: 'globex/planned-only' }], 'found in a plan')
  t.same(await findSubjects(db, 'https://github.com/initech/tps'), [{ kind: 'repo', id: 4000, name: 'initech/tps' }], 'found in events')
  t.same(await findSubjects(db, 'https://github.com/initech/'), [{ kind: 'owner', id: 400, login: 'initech' }], "an account's address")
  t.same(await findSubjects(db, 'github.com/globex'), [{ kind: 'owner', id: 300, login: 'globex' }])
  t.same(await findSubjects(db, 'http://localhost:3001/initech/tps/settings/hooks'), [{ kind: 'repo', id: 4000, name: 'initech/tps' }], 'on a host without a dot (the demo\'s simulated GitHub)')
  t.same(await findSubjects(db, 'http://localhost:3001/initech'), [{ kind: 'owner', id: 400, login: 'initech' }])
  t.same(await findSubjects(db, 'dev'), [
    { kind: 'user', id: 7, login: 'Dev' },
    { kind: 'owner', id: 7, login: 'Dev' },
  ])
  t.same(await findSubjects(db, 'nobody/nothing'), [])
  t.same(await findSubjects(db, '/planned-only'), [{ kind: 'repo', id: 3000, name: 'globex/planned-only' }], "a name alone, any owner's")
  t.same(await findSubjects(db, '   '), [])
})
