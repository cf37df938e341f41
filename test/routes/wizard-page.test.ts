import t from 'tap'
import type { CleanupState, Coverage } from '../../src/db/database.js'
import type { CleanupTask } from '../../src/migration/cleanup-task.js'
import type { StoredBatch, StoredRepo } from '../../src/migration/plan-store.js'
import { batchView, wizardPage, type NextStep } from '../../src/routes/wizard-page.js'

// The one next step the wizard offers per batch, from what Postgres holds about it.

const github = { webUrl: 'https://github.example' }

function repo(id: number, coverage: Coverage = 'unknown', add_state: StoredRepo['add_state'] = null): StoredRepo {
  return { batch_id: 7, repo_id: id, repo_name: `r${id}`, private: false, moved: false, enabled_by: ['mona'], hook_ids: [id], coverage, moved_to: null, add_state, add_reason: null, unseen: null }
}

function installation(selection: 'all' | 'selected' = 'selected', suspended = false): NonNullable<StoredBatch['installation']> {
  return { id: 500, account_id: 1, account_login: 'mona', repository_selection: selection, suspended_at: suspended ? new Date() : null, deleted_at: null, updated_at: new Date() }
}

function batch(over: Partial<StoredBatch> = {}): StoredBatch {
  return {
    id: 7,
    user_id: 1,
    owner_id: 1,
    owner_login: 'mona',
    owner_type: 'User',
    role: 'owner',
    action: 'install',
    hidden_repos: 0,
    state: 'planned',
    state_reason: null,
    installation_id: null,
    add_piece: 0,
    add_lease_until: null,
    coverage_checked_at: null,
    approvers: [],
    updated_at: new Date(),
    repos: [repo(1), repo(2)],
    orgHooks: [],
    installation: undefined,
    ...over,
  }
}

const installed = (over: Partial<StoredBatch> = {}): StoredBatch => batch({ state: 'installed', installation_id: 500, installation: installation(), ...over })
const hook = [{ hookId: 6000, enabledBy: ['mona'] }]
const next = (b: StoredBatch): NextStep => batchView(b, github).next

t.test('before an installation: install, request, waiting, or nothing for an onlooker', async (t) => {
  t.equal(next(batch()), 'install')
  t.equal(next(batch({ action: 'request', role: 'member' })), 'request')
  t.equal(next(batch({ action: 'request', role: 'member', state: 'request_pending' })), 'waiting')
  t.equal(next(batch({ action: 'none', role: 'outsider' })), 'none')
  t.equal(next(batch({ installation_id: 500, installation: undefined })), 'install', 'an installation id the service has no record of is no installation')
  t.equal(next(batch({ state: 'adding', installation_id: 500, installation: installation() })), 'adding')
})

t.test('installed: covered, add (API or settings page), request more, the org hook left, problems, or nothing left', async (t) => {
  t.equal(next(installed({ repos: [repo(1, 'covered'), repo(2, 'gone')] })), 'remove', 'covered: the old hooks can go')
  t.equal(next(installed({ repos: [repo(1, 'covered'), repo(2, 'not_covered')] })), 'add')
  const refused = installed({ repos: [repo(1, 'covered'), repo(2, 'not_covered')], state: 'add_refused', state_reason: 'GitHub refused the legacy token.' })
  t.equal(next(refused), 'settings')
  t.match(batchView(refused, github), { refusedBecause: 'GitHub refused the legacy token.', problem: null }, 'the reason is why it was refused, not a problem')
  t.equal(next(installed({ repos: [repo(1, 'covered'), repo(2, 'unknown')] })), 'install', 'not checked yet: the link preselects it')
  t.equal(next(installed({ repos: [repo(1, 'covered')], orgHooks: hook })), 'install', 'only the org hook left: install on all repositories')
  t.equal(next(installed({ repos: [repo(1, 'covered')], orgHooks: hook, installation: installation('all') })), 'remove')
  t.equal(next(installed({ repos: [repo(1, 'covered')], orgHooks: hook, installation: installation('all', true) })), 'install', 'a suspended installation replaces no hook')

  t.equal(next(installed({ action: 'request', role: 'member', repos: [repo(1, 'covered'), repo(2, 'not_covered')] })), 'request-more')
  t.equal(next(installed({ action: 'request', role: 'member', repos: [repo(1, 'covered')], orgHooks: hook })), 'request-more')
  t.equal(next(installed({ action: 'none', role: 'outsider', repos: [repo(1, 'covered'), repo(2, 'not_covered')] })), 'none')

  const blocked = installed({ state: 'blocked', state_reason: 'The App is suspended.' })
  t.equal(next(blocked), 'none', 'a problem: an owner must act')
  t.match(batchView(blocked, github), { problem: 'The App is suspended.', refusedBecause: null })
  for (const action of ['install', 'request', 'none'] as const) {
    t.equal(next(installed({ action, repos: [repo(1, 'gone'), repo(2, 'moved')] })), 'nothing-left', `all gone or moved (${action}): no link to install on everything`)
  }
})

t.test('the view: counts, progress, what the link cannot preselect, links to GitHub', async (t) => {
  const many = Array.from({ length: 130 }, (_, i) => repo(i + 1))
  const big = batchView(batch({ repos: many }), github)
  t.equal(big.beyondLink, 30)
  t.equal(batchView(batch({ repos: many, orgHooks: hook }), github).beyondLink, 0, 'all repositories: nothing beyond the link')
  t.equal(batchView(batch(), github).beyondLink, 0)
  t.equal(big.settingsUrl, undefined)
  t.equal(big.approversUrl, undefined, "a user's account has no owners to ask")

  const adding = batchView(installed({ state: 'adding', repos: [repo(1, 'covered'), repo(2, 'not_covered', 'added'), repo(3, 'not_covered', 'pending'), repo(4, 'not_covered', 'failed')] }), github)
  t.match(adding, { next: 'adding', added: 1, toAdd: 3, counts: { covered: 1, not_covered: 3 } })
  t.equal(adding.settingsUrl, 'https://github.example/settings/installations/500?repository_ids%5B%5D=2&repository_ids%5B%5D=3&repository_ids%5B%5D=4')

  const org = batchView(batch({ owner_type: 'Organization', owner_login: 'acme', action: 'request', role: 'member', state: 'request_pending' }), github)
  t.equal(org.approversUrl, 'https://github.example/orgs/acme/people?query=role%3Aowner')

  const page = wizardPage({ plannedAt: new Date(0), grantRevokedAt: null, gone: [], notes: [], batches: [batch(), installed({ state: 'adding' })] }, github)
  t.equal(page.refreshSeconds, 2, 'reloads itself while repositories are being added')
  t.equal(wizardPage({ plannedAt: new Date(0), grantRevokedAt: null, gone: [], notes: [], batches: [batch()] }, github).refreshSeconds, undefined)
})

function task(hookId: number, state: CleanupState, reason: string | null = null): CleanupTask {
  const at = new Date()
  return { hook_id: hookId, kind: 'repo', owner_id: 1, owner_login: 'mona', repo_id: hookId, repo_name: `r${hookId}`, enabled_by: 1, requested_by: 1, state, reason, credential: null, attempts: 0, created_at: at, updated_at: at }
}

t.test('covered: remove the old hooks, then their progress, then Done; a hook kept while not covered can go once covered', async (t) => {
  const b = installed({ repos: [repo(1, 'covered'), repo(2, 'covered'), repo(3, 'gone')] })
  const withTasks = (...tasks: CleanupTask[]) => batchView(b, github, undefined, { tasks: new Map(tasks.map((x) => [x.hook_id, x])) })
  t.match(withTasks(), { next: 'remove', removal: { covered: 2, toAgree: 2, removed: 0, remaining: 0, attention: [] } }, 'the gone repository has no hook to remove')
  t.match(withTasks(task(1, 'pending'), task(2, 'removed')), { next: 'removing', removal: { toAgree: 0, removed: 1, remaining: 1, text: 'Old webhooks: 1 removed, 1 remaining' } })
  const done = withTasks(task(1, 'already_absent'), task(2, 'needs_manual', 'Delete it by hand.'))
  t.match(done, { next: 'done', removal: { removed: 1, remaining: 0, attention: [{ hookId: 2, where: 'mona/r2', outcome: 'needs_manual', reason: 'Delete it by hand.' }] } })
  t.equal(done.removal.text, 'Old webhooks: 1 removed, 0 remaining, 1 needs attention')
  t.match(withTasks(task(1, 'removed'), task(2, 'not_covered', 'Kept.')), { next: 'remove', removal: { toAgree: 1 } }, 'covered again: it can go')
  t.equal(withTasks(task(1, 'skipped_foreign', 'Not ours.'), task(2, 'needs_manual', 'By hand.')).removal.text, 'Old webhooks: 0 removed, 0 remaining, 2 need attention')
  const partly = batchView(installed({ repos: [repo(1, 'covered'), repo(2, 'not_covered')] }), github, undefined, { tasks: new Map([[2, task(2, 'not_covered', 'Kept: not covered.')]]) })
  t.match(partly, { next: 'add', removal: { covered: 1, toAgree: 1, attention: [{ hookId: 2, outcome: 'not_covered' }] } })
  t.equal(next(installed({ repos: [{ ...repo(1, 'covered'), hook_ids: [] }] })), 'covered', 'nothing to remove')

  const page = (...batches: StoredBatch[]) => wizardPage({ plannedAt: new Date(0), grantRevokedAt: null, gone: [], notes: [], batches }, github, [], { tasks: new Map([[1, task(1, 'pending')]]), canRevoke: true })
  t.match(page(b), { refreshSeconds: 2, progressScript: true, disconnect: undefined }, 'removing: updates itself; not finished')
  const finished = wizardPage({ plannedAt: new Date(0), grantRevokedAt: null, gone: [], notes: [], batches: [b] }, github, [], { tasks: new Map([1, 2].map((id) => [id, task(id, 'removed')])), canRevoke: true })
  t.same(finished.disconnect, { revokedAt: null, byApi: true, settingsUrl: 'https://github.example/settings/applications' }, 'every hook with its outcome: disconnect')
  t.equal(wizardPage({ plannedAt: new Date(0), grantRevokedAt: null, gone: [], notes: [], batches: [] }, github).disconnect, undefined, 'nothing planned: nothing finished')
})
