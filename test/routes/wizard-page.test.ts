import t from 'tap'
import type { Coverage } from '../../src/db/database.js'
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
  t.equal(next(installed({ repos: [repo(1, 'covered'), repo(2, 'gone')] })), 'covered')
  t.equal(next(installed({ repos: [repo(1, 'covered'), repo(2, 'not_covered')] })), 'add')
  const refused = installed({ repos: [repo(1, 'covered'), repo(2, 'not_covered')], state: 'add_refused', state_reason: 'GitHub refused the legacy token.' })
  t.equal(next(refused), 'settings')
  t.match(batchView(refused, github), { refusedBecause: 'GitHub refused the legacy token.', problem: null }, 'the reason is why it was refused, not a problem')
  t.equal(next(installed({ repos: [repo(1, 'covered'), repo(2, 'unknown')] })), 'install', 'not checked yet: the link preselects it')
  t.equal(next(installed({ repos: [repo(1, 'covered')], orgHooks: hook })), 'install', 'only the org hook left: install on all repositories')
  t.equal(next(installed({ repos: [repo(1, 'covered')], orgHooks: hook, installation: installation('all') })), 'covered')
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
