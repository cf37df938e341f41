import t from 'tap'
import type { BatchState, CleanupState, Coverage } from '../../src/db/database.js'
import { appendAudit } from '../../src/migration/audit.js'
import type { AuditRow } from '../../src/migration/audit-search.js'
import { sentence, timelineOf } from '../../src/migration/timeline.js'
import { testDatabase } from '../helpers/database.js'

// Each kind of event, in the words a support person reads to a customer.

function row(fields: Partial<AuditRow>): AuditRow {
  return {
    id: 1,
    at: new Date('2026-11-30T12:00:00Z'),
    actor_kind: 'user',
    actor_github_id: 1,
    actor_login: 'mona',
    action: 'sign_in',
    owner_id: 100,
    owner_login: 'acme',
    repo_id: null,
    repo_name: null,
    hook_id: null,
    installation_id: null,
    outcome: 'ok',
    reason: null,
    request_id: null,
    detail: {},
    ...fields,
  }
}

const system = { actor_kind: 'system' as const, actor_github_id: null, actor_login: null }
const hook = { ...system, repo_id: 1101, repo_name: 'web', hook_id: 5101, action: 'hook_cleanup' }

t.test('what people did', async (t) => {
  t.equal(sentence(row({ action: 'sign_in' })), 'mona signed in')
  t.equal(sentence(row({ action: 'sign_out' })), 'mona signed out')
  t.equal(sentence(row({ action: 'batch_planned', detail: { repos: 14, orgHooks: 1 } })), "mona's plan: acme, 14 repositories and its organization webhook")
  t.equal(sentence(row({ action: 'batch_planned', detail: { repos: 1 }, owner_login: 'mona' })), "mona's plan: mona, 1 repository")
  t.equal(sentence(row({ action: 'batch_planned', detail: {} })), "mona's plan: acme, 0 repositories")
  t.equal(sentence(row({ action: 'install_link_issued' })), 'mona was sent to GitHub to install the App on acme')
  t.equal(sentence(row({ action: 'installation_verified', installation_id: 501, detail: { repositorySelection: 'all' } })), 'mona installed the App on acme (installation 501, all repositories)')
  t.equal(sentence(row({ action: 'installation_verified', installation_id: 500, detail: { repositorySelection: 'selected' } })), 'mona installed the App on acme (installation 500, selected repositories)')
  t.equal(sentence(row({ action: 'installation_rejected', outcome: 'rejected', reason: 'This installation link was already used.' })), 'an installation on acme was refused: This installation link was already used.')
  t.equal(sentence(row({ action: 'request_pending' })), 'mona asked the owners of acme to install the App')
  t.equal(sentence(row({ action: 'cleanup_agreed' })), 'mona agreed to remove the old webhooks')
  t.equal(sentence(row({ action: 'legacy_grant_revoked' })), 'mona disconnected the old app')
  t.equal(sentence(row({ action: 'staff_view', actor_kind: 'staff', actor_login: 'sam', detail: { url: '/staff/audit?repo=1101' } })), 'sam (staff) read /staff/audit?repo=1101')
  t.equal(sentence(row({ action: 'staff_export', actor_kind: 'staff', actor_login: 'sam' })), 'sam (staff) read a staff page')
})

t.test("the App's coverage", async (t) => {
  t.equal(sentence(row({ ...system, action: 'coverage_checked', outcome: 'covered', detail: { covered: 12 } })), 'the App covers 12 of 12 repositories on acme')
  t.equal(sentence(row({ ...system, action: 'coverage_checked', outcome: 'not_covered', detail: { covered: 12, not_covered: 1, unknown: 1 } })), 'the App covers 12 of 14 repositories on acme (not all)')
  t.equal(sentence(row({ ...system, action: 'coverage_checked', outcome: 'not_covered', detail: {} })), 'the App covers 0 of 0 repositories on acme (not all)')
  t.equal(sentence(row({ ...system, action: 'coverage_checked', outcome: 'failed', reason: 'GitHub did not answer' })), "the App's coverage of acme could not be checked: GitHub did not answer")
  t.equal(sentence(row({ ...system, action: 'coverage_checked', outcome: 'failed' })), "the App's coverage of acme could not be checked")
})

t.test('each old webhook, from plan to outcome', async (t) => {
  t.equal(sentence(row({ ...hook, action: 'hook_removal_planned', outcome: 'planned' })), 'old webhook 5101 on acme/web: to be removed')
  t.equal(sentence(row({ ...hook, action: 'hook_delete_attempted', detail: { credential: 'legacy', attempt: 2 } })), 'old webhook 5101 on acme/web: deleting it with the legacy token (attempt 2)')
  t.equal(sentence(row({ ...hook, action: 'hook_delete_attempted', detail: { credential: 'installation' } })), "old webhook 5101 on acme/web: deleting it with the App's permission (attempt 1)")
  t.equal(sentence(row({ ...hook, outcome: 'removed' })), 'old webhook 5101 on acme/web: removed')
  t.equal(sentence(row({ ...hook, outcome: 'already_absent' })), 'old webhook 5101 on acme/web: already gone')
  t.equal(sentence(row({ ...hook, outcome: 'needs_manual', reason: 'delete it by hand' })), 'old webhook 5101 on acme/web: needs attention: delete it by hand')
  t.equal(sentence(row({ ...hook, outcome: 'skipped_foreign', reason: 'not ours' })), 'old webhook 5101 on acme/web: kept: not ours')
  t.equal(sentence(row({ ...hook, repo_id: null, repo_name: null, hook_id: 6000, outcome: 'removed' })), 'old webhook 6000 on acme: removed', 'an organization hook')
  t.equal(sentence(row({ ...hook, owner_login: null, outcome: 'removed' })), 'old webhook 5101 on web: removed')
  t.equal(sentence(row({ ...hook, owner_login: null, owner_id: null, repo_name: null, hook_id: null, outcome: 'removed' })), 'old webhook on an account: removed')
})

t.test('anything else: its action, where, and how it ended', async (t) => {
  t.equal(sentence(row({ action: 'webhook_received', actor_kind: 'github', actor_login: null, outcome: 'applied' })), 'webhook received on acme: applied')
  t.equal(sentence(row({ action: 'repos_add_finished', owner_login: null, outcome: 'failed', reason: 'refused' })), 'repos add finished on account 100: failed: refused')
  t.equal(sentence(row({ action: 'request_pending', actor_kind: 'github', actor_login: null })), 'GitHub asked the owners of acme to install the App')
  t.equal(sentence(row({ action: 'sign_in', actor_kind: 'staff', actor_login: null })), 'staff signed in')
})

t.test('where things stand, from the service’s own records', async (t) => {
  const { db } = await testDatabase(t)
  await db
    .insertInto('app.inventory')
    .values([
      { user_id: 7, user_login: 'dev', planned_at: new Date(), gone: '[]', grant_revoked_at: new Date('2026-11-29T10:00:00Z') },
      { user_id: 8, user_login: 'ops', planned_at: new Date(), gone: '[]' },
    ])
    .execute()
  const batch = async (userId: number, ownerId: number, login: string, state: BatchState, extra: { installation_id?: number; approvers?: string[] } = {}) =>
    (
      await db
        .insertInto('app.batch')
        .values({ user_id: userId, owner_id: ownerId, owner_login: login, owner_type: 'Organization', role: 'owner', action: 'install', hidden_repos: 0, installation_id: extra.installation_id ?? null, coverage_checked_at: null, state, ...(extra.approvers ? { approvers: extra.approvers } : {}) })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id
  const repo = (batchId: number, repoId: number, name: string, coverage: Coverage, movedTo: string | null = null) => ({ batch_id: batchId, repo_id: repoId, repo_name: name, private: false, moved: false, enabled_by: ['dev'], hook_ids: [], coverage, moved_to: movedTo, add_state: null, add_reason: null })
  const globex = await batch(7, 300, 'globex', 'request_pending', { approvers: ['boss', 'chief'] })
  await batch(8, 300, 'globex', 'request_pending')
  const initech = await batch(7, 400, 'initech', 'adding', { installation_id: 41 })
  await batch(7, 500, 'hooli', 'planned')
  await db
    .insertInto('app.batch_repo')
    .values([repo(initech, 4000, 'tps', 'covered'), repo(initech, 4001, 'old', 'moved', 'globex/old'), repo(initech, 4002, 'lost', 'moved'), repo(initech, 4003, 'gone', 'gone'), repo(globex, 3000, 'wait', 'not_covered'), repo(globex, 3001, 'new', 'unknown')])
    .execute()
  await db.insertInto('app.installation').values({ id: 41, account_id: 400, account_login: 'initech', repository_selection: 'selected', suspended_at: new Date(), deleted_at: null }).execute()
  const task = (hookId: number, state: CleanupState, extra: Partial<{ repo_id: number | null; repo_name: string | null; reason: string }> = {}) => ({
    hook_id: hookId,
    kind: extra.repo_id === null ? ('org' as const) : ('repo' as const),
    owner_id: 400,
    owner_login: 'initech',
    repo_id: 4000,
    repo_name: 'tps',
    enabled_by: 7,
    requested_by: 7,
    state,
    reason: null,
    ...extra,
  })
  await db
    .insertInto('app.cleanup_task')
    .values([
      task(1, 'removed'),
      task(2, 'already_absent'),
      task(3, 'pending'),
      task(4, 'skipped_foreign', { reason: 'not ours' }),
      task(5, 'needs_manual', { reason: 'the token was revoked' }),
      task(6, 'needs_manual', { repo_id: null, repo_name: null, reason: 'only the legacy token can' }),
    ])
    .execute()
  await appendAudit(db, { actor: { kind: 'user', githubId: 7, login: 'dev' }, action: 'sign_in', outcome: 'ok' })
  for (let i = 0; i < 201; i++) await appendAudit(db, { actor: { kind: 'system' }, action: 'coverage_checked', target: { ownerId: 400, ownerLogin: 'initech', repoId: 4000, repoName: 'tps' }, outcome: 'covered', detail: { covered: 1 } })

  const dev = await timelineOf(db, { kind: 'user', id: 7, login: 'dev' })
  t.match(dev.summary, [
    /^dev signed in 1 time, last on 20\d\d-/,
    'asked the owners of globex to install the App; waiting for boss or chief to approve',
    'has not installed the App on hooli yet (0 repositories planned)',
    'the App is installed on initech (installation 41), covering 1 of 4 repositories',
    '2 old webhooks that dev enabled removed, 1 still to go, 1 kept',
    '2 need attention: initech/tps (the token was revoked); initech (organization hook 6) (only the legacy token can)',
    'disconnected the old app on 2026-11-29',
  ])
  t.same(dev.filter, { user: '7' })
  t.equal(dev.entries.length, 1)
  t.equal((await timelineOf(db, { kind: 'user', id: 8, login: 'ops' })).summary[0], 'ops has not signed in here')

  const globexStory = await timelineOf(db, { kind: 'owner', id: 300, login: 'globex' })
  t.same(globexStory.summary, ['the App is not installed on globex', 'dev: asked the owners of globex to install the App; waiting for boss or chief to approve', 'ops: asked the owners of globex to install the App; waiting for an owner to approve'])
  const initechStory = await timelineOf(db, { kind: 'owner', id: 400, login: 'initech' })
  t.equal(initechStory.summary[0], 'the App is installed on initech (installation 41, selected repositories, suspended)')
  t.ok(initechStory.more, 'more than the 200 shown')
  t.equal(initechStory.entries.length, 200)
  t.ok(initechStory.entries[0]!.id < initechStory.entries[199]!.id, 'oldest first')

  const words = async (id: number) => (await timelineOf(db, { kind: 'repo', id, name: 'x' })).summary[0]
  t.equal(await words(4000), 'initech/tps: covered by the App')
  t.equal(await words(4001), 'initech/old: moved to globex/old')
  t.equal(await words(4002), 'initech/lost: moved')
  t.equal(await words(4003), 'initech/gone: gone from GitHub')
  t.equal(await words(3000), 'globex/wait: not covered by the App')
  t.equal(await words(3001), 'globex/new: not checked yet')
  t.same((await timelineOf(db, { kind: 'repo', id: 9999, name: 'acme/none' })).summary, ["acme/none is in no one's plan yet"])

  // Its users: whose plan holds it, who enabled its old webhooks; only those with a timeline.
  const webhook = (hookId: number, userId: number, repoId: number) => ({ github_user_id: userId, kind: 'repo' as const, owner_id: 400, owner_login: 'initech', owner_type: 'Organization' as const, repo_id: repoId, repo_name: 'tps', hook_id: hookId, hook_url: 'https://ci.example.com/hooks/github', created_at: null })
  await db.insertInto('legacy.webhooks').values([webhook(90, 8, 4000), webhook(91, 7, 4000), webhook(92, 99, 4000), webhook(93, 8, 3000)]).execute()
  const people = async (id: number) => (await timelineOf(db, { kind: 'repo', id, name: 'x' })).people
  t.same(await people(4000), [
    { id: 7, login: 'dev', planned: true, enabled: true },
    { id: 8, login: 'ops', planned: false, enabled: true },
  ], 'dev planned and enabled it, ops enabled it; user 99 never signed in, so has no timeline to offer')
  t.same(await people(3000), [
    { id: 7, login: 'dev', planned: true, enabled: false },
    { id: 8, login: 'ops', planned: false, enabled: true },
  ])
  t.same(await people(9999), [])
  t.same(dev.people, [], 'a user timeline lists no other users')
  t.same(globexStory.people, [])
})
