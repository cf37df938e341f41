import t from 'tap'
import { orgOwners } from '../../src/migration/approvers.js'
import { withScopes } from '../helpers/scoped-world.js'
import { githubClientsOf, serviceWithGitHub } from '../helpers/service.js'

// Whom a member waiting for approval should ask: the org's owners, as GitHub lists them to
// that member with their legacy token; nobody named (the page links GitHub's list) when GitHub
// will not say.


t.test("a member learns the org's owners by name, when the legacy token holds read:org", async (t) => {
  const service = await serviceWithGitHub(t, withScopes({ mona: ['read:org'], octo: ['read:org'] }))
  t.same(await orgOwners(service.tdb.db, githubClientsOf(service, { retries: 0 }), 1, 'widgets'), ['octo'])
  t.same(await orgOwners(service.tdb.db, githubClientsOf(service, { retries: 0 }), 3, 'acme'), ['mona'])
  const typical = await serviceWithGitHub(t)
  t.same(await orgOwners(typical.tdb.db, githubClientsOf(typical, { retries: 0 }), 1, 'widgets'), [], 'without it GitHub will not say (404)')
})

t.test('no names when the legacy token is gone or GitHub refuses it', async (t) => {
  const service = await serviceWithGitHub(t)
  t.same(await orgOwners(service.tdb.db, githubClientsOf(service, { retries: 0 }), 2, 'acme'), [], 'hubot: revoked on record')
  t.same(await orgOwners(service.tdb.db, githubClientsOf(service, { retries: 0 }), 99, 'acme'), [], 'no legacy user at all')
  service.sim.state.revokeLegacyToken(service.sim.state.userByLogin('mona')!)
  t.same(await orgOwners(service.tdb.db, githubClientsOf(service, { retries: 0 }), 1, 'widgets'), [], 'mona: GitHub says 401')
})

t.test('one request, however many owners the org has: the first hundred are named', async (t) => {
  const world = withScopes({ mona: ['read:org'] })
  const widgets = world.orgs!.find((o) => o.login === 'widgets')!
  for (let i = 0; i < 150; i++) {
    world.users.push({ id: 5000 + i, login: `owner-${i}` })
    widgets.members[`owner-${i}`] = 'admin'
  }
  const service = await serviceWithGitHub(t, world)
  const before = service.sim.state.apiLog.length
  const named = await orgOwners(service.tdb.db, githubClientsOf(service, { retries: 0 }), 1, 'widgets')
  t.equal(named.length, 100)
  t.equal(service.sim.state.apiLog.length - before, 1, 'one request')
})
