import pino from 'pino'
import t from 'tap'
import { createOctokitClass } from '../../src/github/octokit.js'
import { lastPage, LegacyTokenRevoked, refreshRepos, whenRevoked } from '../../src/migration/repo-refresh.js'
import { demoWorld, startSimulator } from '../helpers/simulator.js'

const quiet = pino({ level: 'silent' })

t.test('repos by id: current names and owners, renames and transfers followed, deleted ones gone', async (t) => {
  const sim = await startSimulator(t)
  const GitHub = createOctokitClass({ apiUrl: sim.apiUrl, log: quiet as never })
  const mona = new GitHub({ auth: 'gho_legacy_mona_0001' })
  sim.state.renameRepo(sim.state.liveRepo(1000)!, 'dotfiles-2')
  sim.state.transferRepo(sim.state.liveRepo(1101)!, sim.state.accountByLogin('widgets')!.id)
  sim.state.transferRepo(sim.state.liveRepo(1002)!, sim.state.accountByLogin('octo')!.id)
  const now = (await refreshRepos(mona, [1000, 1001, 1002, 1100, 1101, 1102, 1999])).repos
  t.match(now.get(1000), { status: 'current', repo: { name: 'dotfiles-2', ownerLogin: 'mona', ownerType: 'User', admin: true } })
  t.match(now.get(1001), { status: 'current', repo: { private: true } })
  t.match(now.get(1100), { status: 'current', repo: { ownerLogin: 'acme', ownerType: 'Organization', admin: true } })
  t.match(now.get(1101), { status: 'current', repo: { ownerLogin: 'widgets' } }, 'transferred to an org she belongs to')
  t.match(now.get(1002), { status: 'current', repo: { ownerLogin: 'octo', name: 'new-name', admin: false } }, 'transferred away: found by id, not in her list')
  t.same(now.get(1999), { status: 'gone' }, 'deleted long ago')
  t.equal(now.size, 7)
})

t.test('a private repo of others the user cannot see is gone for them; a revoked token is explained', async (t) => {
  const world = demoWorld()
  const sim = await startSimulator(t, world)
  const GitHub = createOctokitClass({ apiUrl: sim.apiUrl, log: quiet as never })
  const octo = new GitHub({ auth: 'gho_legacy_octo_0003' })
  const seen = (await refreshRepos(octo, [1100, 1102, 1200])).repos
  t.match(seen.get(1102), { status: 'current', repo: { admin: false } }, 'a collaborator with read access sees it')
  t.match(seen.get(1200), { status: 'current', repo: { admin: true } })

  sim.state.revokeLegacyToken(sim.state.userByLogin('octo')!)
  await t.rejects(refreshRepos(octo, [1200]), LegacyTokenRevoked)
  sim.state.faults.errors.push({ method: 'GET', pattern: '/user/repos', status: 500, rate: 1 })
  const NoRetry = createOctokitClass({ apiUrl: sim.apiUrl, log: quiet as never, retries: 0 })
  const mona = new NoRetry({ auth: 'gho_legacy_mona_0001' })
  const listFailed = await refreshRepos(mona, [1000])
  t.same(listFailed.listFault, { kind: 'unavailable', status: 500 }, 'the list failing is said')
  t.match(listFailed.repos.get(1000), { status: 'current', repo: { name: 'dotfiles' } }, 'and the repository looked up by itself instead')
  sim.state.faults.errors = [{ method: 'GET', pattern: '/repositories/{repository_id}', status: 502, rate: 1 }]
  const lookupFailed = await refreshRepos(mona, [424242, 1000])
  t.same(lookupFailed.repos.get(424242), { status: 'unseen', fault: { kind: 'unavailable', status: 502 } }, 'a lookup failing is not "gone"')
  t.match(lookupFailed.repos.get(1000), { status: 'current' }, 'the others are found')
})

t.test('many ids outside the list are looked up a few at a time, and an empty list asks nothing', async (t) => {
  const sim = await startSimulator(t)
  const GitHub = createOctokitClass({ apiUrl: sim.apiUrl, log: quiet as never })
  const mona = new GitHub({ auth: 'gho_legacy_mona_0001' })
  const ids = Array.from({ length: 20 }, (_, i) => 90_000 + i)
  const now = (await refreshRepos(mona, ids)).repos
  t.same([...now.values()].map((r) => r.status), ids.map(() => 'gone'))
  const before = sim.state.apiLog.length
  t.same((await refreshRepos(mona, [])).repos, new Map())
  t.equal(sim.state.apiLog.length, before, 'no request at all')
})

t.test('a revoked token stands for a value; anything else goes on up', async (t) => {
  const handler = whenRevoked(() => 'revoked')
  t.equal(handler(new LegacyTokenRevoked()), 'revoked')
  const defect = new TypeError('x is undefined')
  t.throws(() => handler(defect), defect)
})

t.test("the page count is read from GitHub's Link header, which names the last page on every page but the last", async (t) => {
  const base = 'https://api.github.com/user/repos?per_page=100'
  t.equal(lastPage(`<${base}&page=2>; rel="next", <${base}&page=20>; rel="last"`), 20, 'the first page')
  t.equal(lastPage(`<${base}&page=2>; rel="prev", <${base}&page=4>; rel="next", <${base}&page=20>; rel="last", <${base}&page=1>; rel="first"`), 20, 'a middle page')
  t.equal(lastPage(`<${base}&page=19>; rel="prev", <${base}&page=1>; rel="first"`), undefined, 'the last page')
  t.equal(lastPage(undefined), undefined, 'a single page has no Link header')
})
