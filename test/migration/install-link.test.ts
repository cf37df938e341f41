import t from 'tap'
import type { Coverage } from '../../src/db/database.js'
import { installLinkRepos, installUrl, MAX_LINK_REPOS, settingsUrl } from '../../src/migration/install-link.js'
import type { StoredBatch, StoredRepo } from '../../src/migration/plan-store.js'

const github = { webUrl: 'https://ghe.example.com', appSlug: 'acme ci' }

function repo(id: number, name: string, coverage: Coverage = 'unknown'): StoredRepo {
  return { batch_id: 1, repo_id: id, repo_name: name, private: false, moved: false, enabled_by: ['mona'], hook_ids: [id], coverage, moved_to: null, add_state: null, add_reason: null, unseen: null }
}

t.test('installLinkRepos: what is not covered yet, in the batch order (by name), at most 100; an org hook means all repositories', async (t) => {
  const repos = [repo(5, 'a', 'covered'), repo(4, 'b', 'not_covered'), repo(3, 'c', 'gone'), repo(2, 'd', 'moved'), repo(1, 'e')]
  t.same(installLinkRepos({ repos, orgHooks: [] }), [4, 1])
  t.same(installLinkRepos({ repos, orgHooks: [{ hookId: 9, enabledBy: ['mona'] }] }), [], 'none named: the link installs on all repositories')

  const many = Array.from({ length: 250 }, (_, i) => repo(1000 + i, `r${String(i).padStart(3, '0')}`))
  const linked = installLinkRepos({ repos: many, orgHooks: [] })
  t.equal(MAX_LINK_REPOS, 100)
  t.equal(linked.length, 100)
  t.same(linked, many.slice(0, 100).map((r) => r.repo_id))
  // Once the first 100 are covered, a second link takes the next ones.
  const half = many.map((r, i) => (i < 100 ? { ...r, coverage: 'covered' as const } : r))
  t.same(installLinkRepos({ repos: half, orgHooks: [] }), many.slice(100, 200).map((r) => r.repo_id))
})

t.test('installUrl: GitHub\'s install page for the owner, with the repositories preselected and the state', async (t) => {
  const url = new URL(installUrl(github, 100, [1100, 1102], 'st.ate'))
  t.equal(`${url.origin}${url.pathname}`, 'https://ghe.example.com/apps/acme%20ci/installations/new/permissions')
  t.equal(url.searchParams.get('suggested_target_id'), '100')
  t.same(url.searchParams.getAll('repository_ids[]'), ['1100', '1102'])
  t.equal(url.searchParams.get('state'), 'st.ate')
  t.same([...url.searchParams.keys()], ['suggested_target_id', 'repository_ids[]', 'repository_ids[]', 'state'])

  const all = new URL(installUrl(github, 1, [], 'x'))
  t.same(all.searchParams.getAll('repository_ids[]'), [], 'no ids: all repositories')
})

t.test("settingsUrl: the installation's settings page, a user's or an org's, with the repositories still to tick", async (t) => {
  const repos = [repo(1, 'a', 'covered'), repo(2, 'b', 'not_covered'), repo(3, 'c', 'not_covered'), repo(4, 'd', 'gone')]
  const user: Pick<StoredBatch, 'owner_type' | 'owner_login' | 'installation_id' | 'repos'> = { owner_type: 'User', owner_login: 'mona', installation_id: 500, repos }
  t.equal(settingsUrl(github, user), 'https://ghe.example.com/settings/installations/500?repository_ids%5B%5D=2&repository_ids%5B%5D=3')
  const org = { ...user, owner_type: 'Organization' as const, owner_login: 'a&b', installation_id: 501 }
  t.equal(settingsUrl(github, org), 'https://ghe.example.com/organizations/a%26b/settings/installations/501?repository_ids%5B%5D=2&repository_ids%5B%5D=3')
  t.equal(settingsUrl(github, { ...user, repos: [repo(1, 'a', 'covered')] }), 'https://ghe.example.com/settings/installations/500', 'nothing to tick: no query')
})
