import type { Insertable } from 'kysely'
import t, { type Test } from 'tap'
import type { LegacyWebhooksTable } from '../../src/db/database.js'
import { OLGA, staffService } from '../helpers/staff.js'

/** The service with the demo's staff and empty legacy tables, read as olga, an operator. */
async function staffReader(t: Test) {
  const service = await staffService(t, { seedLegacy: false })
  return { tdb: service.tdb, get: await service.as(OLGA) }
}

function hook(i: number, ownerId: number, ownerLogin: string, userId = 1): Insertable<LegacyWebhooksTable> {
  return {
    github_user_id: userId,
    kind: 'repo',
    owner_id: ownerId,
    owner_login: ownerLogin,
    owner_type: 'Organization',
    repo_id: 10_000 + i,
    repo_name: `repo-${i}`,
    hook_id: 50_000 + i,
    hook_url: 'https://ci.example.com/hook',
    created_at: '2020-01-01T00:00:00Z',
  }
}

// The cells of one owner's row, as text, in column order.
function ownerRow(html: string, login: string): string[] | undefined {
  const rows = html.split('<tr>').slice(1).map((r) => r.split('</tr>')[0]!)
  const row = rows.find((r) => r.includes(`<span class="login">${login}</span>`))
  return row
    ?.split(/<t[hd][^>]*>/)
    .slice(1)
    .map((cell) => cell.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim())
}

t.test('the inventory page: totals, then one row per owner with its figures and users', async (t) => {
  const { tdb, get } = await staffReader(t)
  await tdb.db
    .insertInto('legacy.oauth_users')
    .values([
      { github_user_id: 1, login: 'mona', oauth_token: 'gho_T0KEN_mona', scopes: 'repo' },
      { github_user_id: 2, login: 'hubot', oauth_token: null, scopes: 'repo' },
      ...[3, 4, 5, 6, 7].map((id) => ({ github_user_id: id, login: `dev-${id}`, oauth_token: `gho_T0KEN_${id}`, scopes: 'repo' })),
    ])
    .execute()
  await tdb.db
    .insertInto('legacy.webhooks')
    .values([
      ...[1, 2, 3, 4, 5, 6, 7].map((user, i) => hook(i, 100, 'acme', user)),
      { ...hook(20, 100, 'acme', 1), kind: 'org', repo_id: null, repo_name: null },
      { ...hook(21, 200, 'mona', 1), owner_type: 'User' },
    ])
    .execute()
  const res = await get('/staff/inventory')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /<title>Legacy inventory · oauth-to-app<\/title>/)

  const totals = Object.fromEntries([...res.body.matchAll(/<dt>([^<]+)<\/dt><dd>([^<]+)<\/dd>/g)].map((m) => [m[1], m[2]]))
  t.same(totals, { Owners: '2', Repositories: '8', Hooks: '9', Users: '7', 'Revoked/unknown token': '1' })

  t.same(ownerRow(res.body, 'acme'), ['acme #100', 'Organization', '7', '8', 'yes', 'dev-3 dev-4 dev-5 dev-6 dev-7 and 2 more'])
  t.same(ownerRow(res.body, 'mona'), ['mona #200', 'User', '1', '1', 'no', 'mona'])
  t.notMatch(res.body, /T0KEN/, 'no token is ever rendered')
  t.match(res.body, /2 owners, page 1 of 1\./)
  t.notMatch(res.body, /rel="(next|prev)"/)
})

t.test('a user with a revoked token is flagged in the owner row', async (t) => {
  const { tdb, get } = await staffReader(t)
  await tdb.db.insertInto('legacy.oauth_users').values({ github_user_id: 2, login: 'hubot', oauth_token: null, scopes: null }).execute()
  await tdb.db.insertInto('legacy.webhooks').values([hook(1, 100, 'acme', 2), hook(2, 100, 'acme', 77)]).execute()
  const res = await get('/staff/inventory')
  t.same(ownerRow(res.body, 'acme')?.[5], 'hubot no token user #77 no token')
})

t.test('recorded names are escaped, never interpreted as HTML', async (t) => {
  const { tdb, get } = await staffReader(t)
  await tdb.db
    .insertInto('legacy.oauth_users')
    .values({ github_user_id: 1, login: '"><img src=x onerror=alert(1)>', oauth_token: 'gho_x', scopes: null })
    .execute()
  await tdb.db
    .insertInto('legacy.webhooks')
    .values([
      { ...hook(1, 100, '<script>alert("owner")</script>'), created_at: '2024-01-01T00:00:00Z' },
      { ...hook(2, 100, "old'><b>name"), created_at: '2000-01-01T00:00:00Z' },
    ])
    .execute()
  const res = await get(`/staff/inventory?q=${encodeURIComponent('<script>')}`)
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, /<script>/)
  t.notMatch(res.body, /<img/)
  t.notMatch(res.body, /<b>name/)
  t.match(res.body, /&lt;script&gt;alert\(&quot;owner&quot;\)&lt;\/script&gt;/)
  t.match(res.body, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/)
  t.match(res.body, /value="&lt;script&gt;"/, 'the search box keeps the query, escaped')
})

t.test('pages of 50 owners, sorted by login, with links that keep the filter', async (t) => {
  const { tdb, get } = await staffReader(t)
  // 120 owners: org-000 .. org-119, plus one that the filter leaves out.
  await tdb.db
    .insertInto('legacy.webhooks')
    .values([...Array.from({ length: 120 }, (_, i) => hook(i, 1000 + i, `org-${String(i).padStart(3, '0')}`)), hook(500, 9, 'zeta')])
    .execute()

  const first = await get('/staff/inventory?q=org')
  t.match(first.body, /120 owners matching, page 1 of 3\./)
  t.equal([...first.body.matchAll(/<span class="login">/g)].length, 50)
  t.match(first.body, /<span class="login">org-000<\/span>[\s\S]*<span class="login">org-049<\/span>/)
  t.notMatch(first.body, /org-050|rel="prev"/)
  t.match(first.body, /<a rel="next" href="\/staff\/inventory\?q=org&amp;page=2">/)

  const second = await get('/staff/inventory?q=org&page=2')
  t.match(second.body, /<span class="login">org-050<\/span>/)
  t.match(second.body, /<a rel="prev" href="\/staff\/inventory\?q=org">/)
  t.match(second.body, /<a rel="next" href="\/staff\/inventory\?q=org&amp;page=3">/)

  const last = await get('/staff/inventory?q=org&page=3')
  t.equal([...last.body.matchAll(/<span class="login">/g)].length, 20)
  t.match(last.body, /<a rel="prev" href="\/staff\/inventory\?q=org&amp;page=2">/)
  t.notMatch(last.body, /rel="next"/)

  const unfiltered = await get('/staff/inventory?page=3')
  t.match(unfiltered.body, /121 owners, page 3 of 3\./)
  t.match(unfiltered.body, /<span class="login">zeta<\/span>/)
  t.match(unfiltered.body, /<a rel="prev" href="\/staff\/inventory\?page=2">/)

  const beyond = await get('/staff/inventory?q=org&page=7')
  t.equal(beyond.statusCode, 200)
  t.match(beyond.body, /There are no owners on this page\. <a href="\/staff\/inventory\?q=org">Go to the first page<\/a>/)
  t.match(beyond.body, /<a rel="prev" href="\/staff\/inventory\?q=org&amp;page=3">/, 'previous leads back to the last page')
})

t.test('a filter that matches nothing, and an empty inventory, say so', async (t) => {
  const { tdb, get } = await staffReader(t)
  const empty = await get('/staff/inventory')
  t.match(empty.body, /No legacy hooks are recorded\./)
  t.notMatch(empty.body, /<table/)

  await tdb.db.insertInto('legacy.webhooks').values(hook(1, 100, 'acme')).execute()
  const none = await get('/staff/inventory?q=nobody')
  t.match(none.body, /No owner login starts with “nobody”\./)
  t.match(none.body, /<a href="\/staff\/inventory">Clear<\/a>/)
})

t.test('a page number that is not one is refused with a reason', async (t) => {
  const { tdb, get } = await staffReader(t)
  for (const page of ['0', 'two', '-1']) {
    const res = await get(`/staff/inventory?page=${page}`)
    t.equal(res.statusCode, 400, `page=${page}`)
    t.match(res.body, /400 · Bad Request/)
    t.match(res.body, /querystring\/page must be/)
  }
  const long = await get(`/staff/inventory?q=${'a'.repeat(101)}`)
  t.equal(long.statusCode, 400)
})
