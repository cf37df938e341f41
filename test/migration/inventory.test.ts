import type { Insertable, Kysely } from 'kysely'
import t from 'tap'
import type { Database, LegacyWebhooksTable } from '../../src/db/database.js'
import { inventoryTotals, listOwners, prefixPattern } from '../../src/migration/inventory.js'
import { testDatabase } from '../helpers/database.js'

type Hook = Insertable<LegacyWebhooksTable>

let nextHookId = 1000
function repoHook(userId: number, ownerId: number, ownerLogin: string, repoId: number, extra: Partial<Hook> = {}): Hook {
  nextHookId += 1
  return {
    github_user_id: userId,
    kind: 'repo',
    owner_id: ownerId,
    owner_login: ownerLogin,
    owner_type: 'Organization',
    repo_id: repoId,
    repo_name: `repo-${repoId}`,
    hook_id: nextHookId,
    hook_url: 'https://ci.example.com/hook',
    created_at: '2020-01-01T00:00:00Z',
    ...extra,
  }
}

function orgHook(userId: number, ownerId: number, ownerLogin: string, extra: Partial<Hook> = {}): Hook {
  return { ...repoHook(userId, ownerId, ownerLogin, 0, extra), kind: 'org', repo_id: null, repo_name: null }
}

async function users(db: Kysely<Database>, rows: [id: number, login: string, token: string | null][]): Promise<void> {
  await db
    .insertInto('legacy.oauth_users')
    .values(rows.map(([github_user_id, login, oauth_token]) => ({ github_user_id, login, oauth_token, scopes: 'repo' })))
    .execute()
}

async function hooks(db: Kysely<Database>, rows: Hook[]): Promise<void> {
  await db.insertInto('legacy.webhooks').values(rows).execute()
}

const page1 = { page: 1, pageSize: 50, usersShown: 5 }

t.test('an empty legacy source: zero everywhere, one empty page', async (t) => {
  const { db } = await testDatabase(t)
  t.same(await inventoryTotals(db), { owners: 0, repos: 0, hooks: 0, users: 0, usersWithoutToken: 0 })
  t.same(await listOwners(db, page1), { owners: [], matching: 0, page: 1, pageSize: 50, pages: 1 })
})

t.test('totals count each repo and each enabling user once, and users without a usable token', async (t) => {
  const { db } = await testDatabase(t)
  await users(db, [
    [1, 'mona', 'gho_mona'],
    [2, 'hubot', null],
    [3, 'octocat', 'gho_octo'], // enabled nothing: not one of the users to migrate
  ])
  await hooks(db, [
    repoHook(1, 100, 'acme', 10),
    repoHook(2, 100, 'acme', 10), // the same repo enabled by a second user
    repoHook(1, 100, 'acme', 11),
    orgHook(1, 100, 'acme'),
    repoHook(4, 200, 'mona', 20), // user 4 has no row at all: token unknown
  ])
  t.same(await inventoryTotals(db), { owners: 2, repos: 3, hooks: 5, users: 3, usersWithoutToken: 2 })
})

t.test('one row per owner id with its figures, users by login, tokens never returned', async (t) => {
  const { db } = await testDatabase(t)
  await users(db, [
    [1, 'mona', 'gho_secret_mona'],
    [2, 'Hubot', null],
    [3, 'amy', 'gho_secret_amy'],
  ])
  await hooks(db, [
    repoHook(1, 100, 'acme', 10),
    repoHook(2, 100, 'acme', 10),
    repoHook(3, 100, 'acme', 11),
    repoHook(9, 100, 'acme', 12),
    orgHook(1, 100, 'acme'),
    repoHook(1, 200, 'mona', 20, { owner_type: 'User' }),
  ])
  const result = await listOwners(db, page1)
  t.equal(result.matching, 2)
  t.same(result.owners, [
    {
      ownerId: 100,
      login: 'acme',
      type: 'Organization',
      otherLogins: [],
      repos: 3,
      hooks: 5,
      hasOrgHook: true,
      userCount: 4,
      users: [
        { githubUserId: 3, login: 'amy', tokenMissing: false },
        { githubUserId: 2, login: 'Hubot', tokenMissing: true },
        { githubUserId: 1, login: 'mona', tokenMissing: false },
        { githubUserId: 9, login: null, tokenMissing: true },
      ],
    },
    {
      ownerId: 200,
      login: 'mona',
      type: 'User',
      otherLogins: [],
      repos: 1,
      hooks: 1,
      hasOrgHook: false,
      userCount: 1,
      users: [{ githubUserId: 1, login: 'mona', tokenMissing: false }],
    },
  ])
  t.notMatch(JSON.stringify(result), /gho_/)
})

t.test('an owner is shown under its most recently recorded login, with the others listed', async (t) => {
  const { db } = await testDatabase(t)
  await hooks(db, [
    // Recorded later (higher id) but created earlier: created_at decides.
    repoHook(1, 100, 'new-name', 10, { created_at: '2023-05-01T00:00:00Z' }),
    repoHook(1, 100, 'old-name', 11, { created_at: '2019-05-01T00:00:00Z' }),
    // No created_at counts as oldest.
    repoHook(1, 200, 'dated', 20, { created_at: '2018-01-01T00:00:00Z' }),
    repoHook(1, 200, 'undated', 21, { created_at: null }),
    // Same instant: the later row wins.
    repoHook(1, 300, 'first-row', 30, { created_at: '2021-01-01T00:00:00Z' }),
    repoHook(1, 300, 'second-row', 31, { created_at: '2021-01-01T00:00:00Z' }),
    // Type as recorded on the latest row.
    repoHook(1, 400, 'was-user', 40, { owner_type: 'User', created_at: '2017-01-01T00:00:00Z' }),
    repoHook(1, 400, 'now-org', 41, { owner_type: 'Organization', created_at: '2022-01-01T00:00:00Z' }),
  ])
  const { owners } = await listOwners(db, page1)
  t.same(
    owners.map((o) => [o.ownerId, o.login, o.otherLogins, o.type]),
    [
      [200, 'dated', ['undated'], 'Organization'],
      [100, 'new-name', ['old-name'], 'Organization'],
      [400, 'now-org', ['was-user'], 'Organization'],
      [300, 'second-row', ['first-row'], 'Organization'],
    ],
  )
})

t.test('owners are sorted by login regardless of case, then paged', async (t) => {
  const { db } = await testDatabase(t)
  const logins = ['delta', 'Bravo', 'alpha', 'Echo', 'charlie']
  await hooks(db, logins.map((login, i) => repoHook(1, 100 + i, login, 10 + i)))

  const first = await listOwners(db, { ...page1, pageSize: 2 })
  t.same(first.owners.map((o) => o.login), ['alpha', 'Bravo'])
  t.match(first, { matching: 5, page: 1, pageSize: 2, pages: 3 })
  const last = await listOwners(db, { ...page1, page: 3, pageSize: 2 })
  t.same(last.owners.map((o) => o.login), ['Echo'])

  const beyond = await listOwners(db, { ...page1, page: 9, pageSize: 2 })
  t.same(beyond.owners, [])
  t.match(beyond, { matching: 5, page: 9, pages: 3 }, 'past the end, the count is still known')
})

t.test('q finds owners whose login, current or former, starts with it', async (t) => {
  const { db } = await testDatabase(t)
  await hooks(db, [
    repoHook(1, 100, 'Acme-Corp', 10),
    repoHook(1, 200, 'acme_labs', 20),
    repoHook(1, 300, 'acmexlabs', 30),
    repoHook(1, 400, 'renamed', 40, { created_at: '2024-01-01T00:00:00Z' }),
    repoHook(1, 400, 'acme-old', 41, { created_at: '2010-01-01T00:00:00Z' }),
    repoHook(1, 500, 'not-acme', 50),
    repoHook(1, 600, '100%real', 60),
  ])
  const found = async (q: string) => (await listOwners(db, { ...page1, q })).owners.map((o) => o.login)
  t.same(await found('acme'), ['Acme-Corp', 'acme_labs', 'acmexlabs', 'renamed'])
  t.same(await found('  ACME-  '), ['Acme-Corp', 'renamed'], 'case and surrounding spaces do not matter')
  t.same(await found('acme_'), ['acme_labs'], '_ is a character, not a wildcard')
  t.same(await found('100%'), ['100%real'])
  t.same(await found('%'), [], '% is a character, not a wildcard')
  t.same(await found(''), ['100%real', 'Acme-Corp', 'acme_labs', 'acmexlabs', 'not-acme', 'renamed'], 'empty q: everyone')
  const none = await listOwners(db, { ...page1, q: 'zzz' })
  t.match(none, { matching: 0, owners: [], pages: 1 })
})

t.test('at most usersShown users per owner, the rest counted', async (t) => {
  const { db } = await testDatabase(t)
  const ids = [1, 2, 3, 4, 5, 6, 7]
  await users(db, ids.map((id) => [id, `user-${id}`, 'gho_x'] as [number, string, string]))
  await hooks(db, ids.map((id) => repoHook(id, 100, 'acme', id)))
  const [owner] = (await listOwners(db, { ...page1, usersShown: 5 })).owners
  t.equal(owner?.userCount, 7)
  t.same(owner?.users.map((u) => u.login), ['user-1', 'user-2', 'user-3', 'user-4', 'user-5'])
})

t.test('prefixPattern escapes LIKE wildcards', async (t) => {
  t.equal(prefixPattern('Acme'), 'acme%')
  t.equal(prefixPattern('a_b%c\\d'), 'a\\_b\\%c\\\\d%')
})
