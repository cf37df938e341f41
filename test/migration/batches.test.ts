import { Readable } from 'node:stream'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createOctokitClass } from '../../src/github/octokit.js'
import { importLegacyCsv } from '../../src/legacy/import.js'
import { legacyCsvFromWorld } from '../../src/legacy/world-seed.js'
import { planBatches } from '../../src/migration/batches.js'
import { LegacyTokenRevoked } from '../../src/migration/repo-refresh.js'
import type { World } from '../../src/simulator/world.js'
import { testDatabase } from '../helpers/database.js'
import { withScopes } from '../helpers/scoped-world.js'
import { demoWorld, startSimulator } from '../helpers/simulator.js'

const READ_ORG = { mona: ['read:org'], octo: ['read:org'] }

// Both sides from one world: the simulated GitHub and the legacy tables. Tokens here hold
// read:org, so roles can be read (test/routes/wizard-token-faults.test.ts plans without it).
async function setup(t: Test, world: World = withScopes(READ_ORG)) {
  const sim = await startSimulator(t, world)
  const tdb = await testDatabase(t)
  const result = await importLegacyCsv(tdb.pool, Readable.from([legacyCsvFromWorld(world)]), { fileName: 'world', onProblem: () => t.fail('bad world') })
  t.equal(result.status, 'imported')
  const GitHub = createOctokitClass({ apiUrl: sim.apiUrl, log: pino({ level: 'silent' }) as never, retries: 0 })
  return { sim, tdb, legacy: (token: string) => new GitHub({ auth: token }) }
}

t.test('mona: her account, the org she owns with others\' repos and its org hook, the org where she is a member', async (t) => {
  const { tdb, legacy } = await setup(t)
  const { batches, gone } = await planBatches(tdb.db, legacy('gho_legacy_mona_0001'), { id: 1, login: 'mona' })
  t.same(
    batches.map((b) => [b.owner.login, b.role, b.action]),
    [
      ['mona', 'owner', 'install'],
      ['acme', 'admin', 'install'],
      ['widgets', 'member', 'request'],
    ],
  )
  t.same(
    batches[0]!.repos.map((r) => [r.name, r.enabledBy]),
    [
      ['dotfiles', ['mona']],
      ['new-name', ['mona']],
      ['site', ['mona']],
    ],
    'the renamed repo under its name of today',
  )
  t.match(batches[1], {
    repos: [
      { name: 'api', private: true, enabledBy: ['mona'], hookIds: [5100] },
      { name: 'vault', enabledBy: ['mona'] },
      { name: 'web', enabledBy: ['hubot'], hookIds: [5101] },
    ],
    hiddenRepos: 0,
    orgHooks: [{ hookId: 6000, enabledBy: ['mona'] }],
  })
  t.match(batches[2], { repos: [{ name: 'core', enabledBy: ['octo'] }] })
  t.same(gone, [{ repoId: 1999, repoName: 'deleted-long-ago', ownerLogin: 'mona', hookId: 5999 }])
})

t.test('octo in an org that shares nothing: private repos of others counted, never named', async (t) => {
  const world = withScopes(READ_ORG)
  world.orgs!.find((o) => o.login === 'acme')!.default_repository_permission = 'none'
  const { tdb, legacy } = await setup(t, world)
  const { batches, gone } = await planBatches(tdb.db, legacy('gho_legacy_octo_0003'), { id: 3, login: 'octo' })
  t.same(batches.map((b) => [b.owner.login, b.action]), [['acme', 'request'], ['widgets', 'install']])
  t.same(batches[0]!.repos.map((r) => r.name), ['vault'], 'only the repo octo collaborates on is named')
  t.equal(batches[0]!.hiddenRepos, 2, 'api and web are counted')
  t.notMatch(JSON.stringify(batches), /"api"|"web"/)
  t.same(gone, [])
})

t.test('a transferred repo lands on its new owner, marked moved; an outsider owner can only be looked at', async (t) => {
  const world = withScopes(READ_ORG)
  world.orgs!.push({ id: 102, login: 'elsewhere', members: { octo: 'admin' } })
  const { sim, tdb, legacy } = await setup(t, world)
  sim.state.transferRepo(sim.state.liveRepo(1002)!, sim.state.accountByLogin('octo')!.id)
  sim.state.transferRepo(sim.state.liveRepo(1000)!, 102)
  const { batches } = await planBatches(tdb.db, legacy('gho_legacy_mona_0001'), { id: 1, login: 'mona' })
  const octo = batches.find((b) => b.owner.login === 'octo')!
  t.match(octo, { role: 'outsider', action: 'none', repos: [{ name: 'new-name', moved: true }] })
  t.match(batches.find((b) => b.owner.login === 'elsewhere'), { role: 'outsider', action: 'none', repos: [{ name: 'dotfiles', moved: true }] }, 'an org she is not in')
  t.same(batches[0]!.repos.map((r) => r.name), ['site'])
})

t.test('a revoked legacy token stops the plan with LegacyTokenRevoked; other failures are noted, and the plan goes on', async (t) => {
  const { sim, tdb, legacy } = await setup(t)
  sim.state.revokeLegacyToken(sim.state.userByLogin('mona')!)
  await t.rejects(planBatches(tdb.db, legacy('gho_legacy_mona_0001'), { id: 1, login: 'mona' }), LegacyTokenRevoked)

  // GitHub failing on octo's role: the role is unknown (GitHub's install page decides), and said so.
  sim.state.faults.errors = [{ method: 'GET', pattern: '/user/memberships/orgs/{org}', status: 502, rate: 1 }]
  const unknownRole = await planBatches(tdb.db, legacy('gho_legacy_octo_0003'), { id: 3, login: 'octo' })
  t.match(unknownRole.batches.find((b) => b.owner.login === 'widgets'), { role: 'unknown', action: 'install', repos: [{ name: 'core' }] })
  t.match(unknownRole.notes, [
    { ownerLogin: 'acme', fault: 'unavailable', message: /GitHub did not answer for your role in acme \(HTTP 502\)/ },
    { ownerLogin: 'widgets', fault: 'unavailable' },
  ])

  // No repository list: each repository is looked up by itself.
  sim.state.faults.errors = [{ method: 'GET', pattern: '/user/repos', status: 503, rate: 1 }]
  const noList = await planBatches(tdb.db, legacy('gho_legacy_octo_0003'), { id: 3, login: 'octo' })
  t.match(noList.batches.find((b) => b.owner.login === 'widgets'), { role: 'admin', repos: [{ name: 'core' }] })
  t.match(noList.notes, [{ ownerId: null, fault: 'unavailable', message: /list of your repositories \(HTTP 503\).*looked up one by one instead/ }])

  // No organization list: the organizations of the repositories octo can see stand in for it.
  sim.state.faults.errors = [{ method: 'GET', pattern: '/user/orgs', status: 503, rate: 1 }]
  const noOrgs = await planBatches(tdb.db, legacy('gho_legacy_octo_0003'), { id: 3, login: 'octo' })
  t.same(noOrgs.batches.map((b) => b.owner.login), ['acme', 'widgets'])
  t.match(noOrgs.notes, [{ ownerId: null, fault: 'unavailable', message: /list of your organizations.*found from the repositories it can see instead/ }])

  // Neither list: octo's own records still plan, each repository looked up by itself.
  sim.state.faults.errors.push({ method: 'GET', pattern: '/user/repos', status: 503, rate: 1 })
  const neither = await planBatches(tdb.db, legacy('gho_legacy_octo_0003'), { id: 3, login: 'octo' })
  t.same(neither.batches.map((b) => [b.owner.login, b.repos.map((r) => r.name)]), [['widgets', ['core']]])
  t.same(neither.notes.map((n) => n.message.slice(0, 60)), [
    'GitHub did not answer for the list of your organizations (HT',
    'GitHub did not answer for the list of your repositories (HTT',
  ])
})

t.test('a token without any organization scope: roles unknown and said, without asking GitHub once per organization', async (t) => {
  const { sim, tdb, legacy } = await setup(t, demoWorld())
  const { batches, notes } = await planBatches(tdb.db, legacy('gho_legacy_mona_0001'), { id: 1, login: 'mona' })
  t.same(batches.map((b) => [b.owner.login, b.role, b.action]), [
    ['mona', 'owner', 'install'],
    ['acme', 'unknown', 'install'],
    ['widgets', 'unknown', 'install'],
  ])
  t.match(notes.filter((n) => n.ownerId !== null), [
    { ownerLogin: 'acme', fault: 'scope', message: /lacks the read:org scope GitHub requires for your role in acme/ },
    { ownerLogin: 'widgets', fault: 'scope' },
  ])
  t.same(sim.state.apiLog.filter((e) => e.path.startsWith('/user/memberships/')), [], 'GitHub was not asked what it had already refused')
})
