import pino from 'pino'
import t from 'tap'
import { createGitHubClients } from '../../src/github/clients.js'
import { createOctokitClass } from '../../src/github/octokit.js'
import { orgOwners } from '../../src/migration/approvers.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'

// Whom a member waiting for approval should ask: the org's owners, as GitHub lists them to
// that member with their legacy token; nobody named (the page links GitHub's list) when GitHub
// will not say.

function clients(service: Service) {
  const { sim } = service
  return createGitHubClients(
    { webUrl: sim.url, apiUrl: sim.apiUrl, appId: sim.state.app.id, appSlug: sim.state.app.slug, clientId: sim.state.app.client_id, clientSecret: 'x', privateKey: sim.privateKey, webhookSecret: 'x' },
    createOctokitClass({ apiUrl: sim.apiUrl, log: pino({ level: 'silent' }), retries: 0 }),
  )
}

t.test("a member learns the org's owners by name", async (t) => {
  const service = await serviceWithGitHub(t)
  t.same(await orgOwners(service.tdb.db, clients(service), 1, 'widgets'), ['octo'])
  t.same(await orgOwners(service.tdb.db, clients(service), 3, 'acme'), ['mona'])
})

t.test('no names when the legacy token is gone or GitHub refuses it', async (t) => {
  const service = await serviceWithGitHub(t)
  t.same(await orgOwners(service.tdb.db, clients(service), 2, 'acme'), [], 'hubot: revoked on record')
  t.same(await orgOwners(service.tdb.db, clients(service), 99, 'acme'), [], 'no legacy user at all')
  service.sim.state.revokeLegacyToken(service.sim.state.userByLogin('mona')!)
  t.same(await orgOwners(service.tdb.db, clients(service), 1, 'widgets'), [], 'mona: GitHub says 401')
})
