import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhooks } from '@octokit/webhooks'
import t, { type Test } from 'tap'
import { webhookDelivery } from '../../src/simulator/delivery.js'
import { buildSimulator } from '../../src/simulator/server.js'
import { SimState } from '../../src/simulator/state.js'
import { demoWorld, startSimulator } from '../helpers/simulator.js'
import { Browser } from './web/browser.js'
import { receiver, verified, SECRET } from './webhook-receiver.js'

const PERMISSIONS = '/apps/acme-ci/installations/new/permissions'

async function started(t: Test, webhookUrl: string | undefined) {
  const world = demoWorld()
  if (webhookUrl === undefined) delete world.app.webhook_url
  else world.app.webhook_url = webhookUrl
  const sim = await startSimulator(t, world)
  return { ...sim, b: new Browser(sim.sim.app) }
}

t.test('an install is POSTed to the webhook URL, signed, with GitHub headers and payload', async (t) => {
  const hook = await receiver(t)
  const { b, url, sim, state } = await started(t, hook.url)
  await b.signIn('mona')
  await b.get(`${PERMISSIONS}?suggested_target_id=1`)
  await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: ['1000', '1001'] })
  await sim.delivery.settle()
  t.equal(hook.received.length, 1)
  const [delivery] = hook.received
  t.match(delivery!.headers, {
    'content-type': 'application/json',
    'user-agent': /^GitHub-Hookshot\//,
    'x-github-event': 'installation',
    'x-github-delivery': /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    'x-github-hook-id': '9001',
    'x-github-hook-installation-target-id': '9001',
    'x-github-hook-installation-target-type': 'integration',
    'x-hub-signature': /^sha1=[0-9a-f]{40}$/,
    'x-hub-signature-256': /^sha256=[0-9a-f]{64}$/,
  })
  const payload = await verified(delivery!)
  const [installation] = state.installations.values()
  t.match(payload, {
    action: 'created',
    installation: {
      id: installation!.id,
      account: { login: 'mona', id: 1, type: 'User' },
      repository_selection: 'selected',
      access_tokens_url: `http://localhost:${new URL(url).port}/api/v3/app/installations/${installation!.id}/access_tokens`,
      app_id: 9001,
      app_slug: 'acme-ci',
      target_type: 'User',
      permissions: { metadata: 'read', repository_hooks: 'write' },
      suspended_at: null,
    },
    repositories: [
      { id: 1000, name: 'dotfiles', full_name: 'mona/dotfiles', private: false },
      { id: 1001, name: 'site', full_name: 'mona/site', private: true },
    ],
    requester: null,
    sender: { login: 'mona', id: 1, type: 'User' },
  })
  t.match(state.deliveries, [{ id: delivery!.headers['x-github-delivery'], event: 'installation', action: 'created', installationId: installation!.id, url: hook.url, status: 202 }])
  t.notOk(await new Webhooks({ secret: 'other' }).verify(delivery!.body, String(delivery!.headers['x-hub-signature-256'])), 'only the right secret verifies')
})

t.test('delivery never holds up the page; /_sim/state shows it pending, flush waits for it', async (t) => {
  const hook = await receiver(t, 500)
  hook.hold()
  const { b, url, state } = await started(t, hook.url)
  await b.signIn('mona')
  await b.get(`${PERMISSIONS}?suggested_target_id=1`)
  const page = await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'all' })
  t.equal(page.status, 302, 'answered while the receiver has not answered')
  const dump = (await (await fetch(`${url}/_sim/state`)).json()) as { pendingDeliveries: number; deliveries: unknown[] }
  t.equal(dump.pendingDeliveries, 1)
  t.same(dump.deliveries, [])
  const flushing = fetch(`${url}/_sim/deliveries/flush`, { method: 'POST' })
  setTimeout(() => hook.release(), 50)
  const flushed = (await (await flushing).json()) as { deliveries: { status: number }[] }
  t.match(flushed.deliveries, [{ status: 500, event: 'installation', action: 'created' }])
  t.equal(state.deliveries.length, 1)
})

t.test('a receiver that is down is recorded as a failure; the simulator carries on', async (t) => {
  const { b, sim, state } = await started(t, await closedPortUrl())
  await b.signIn('mona')
  await b.get(`${PERMISSIONS}?suggested_target_id=1`)
  t.equal((await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'all' })).status, 302)
  await sim.delivery.settle()
  t.match(state.deliveries, [{ event: 'installation', status: null, error: 'ECONNREFUSED' }])
  state.app.webhook_url = 'http://127.0.0.1:1/hooks'
  await b.get(`${PERMISSIONS}?suggested_target_id=1`)
  await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'selected', repository_ids: '1000' })
  await sim.delivery.settle()
  t.match(state.deliveries[1], { event: 'installation_repositories', action: 'removed', status: null, error: 'bad port' })
  t.equal((await b.get('/')).status, 200)
})

async function closedPortUrl(): Promise<string> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return `http://127.0.0.1:${port}/hooks`
}

t.test('a receiver that does not answer in time is recorded as a timeout', async (t) => {
  const hook = await receiver(t)
  hook.hold()
  const world = demoWorld()
  world.app.webhook_url = hook.url
  const state = new SimState(world)
  const delivery = webhookDelivery(state, { origin: () => 'http://sim.example', timeoutMs: 50 })
  const installation = state.install(1, 'all', []).installation
  delivery.send({ name: 'installation', action: 'created', installation, sender: state.users.get(1)! })
  t.equal(delivery.pending(), 1)
  await delivery.settle()
  t.equal(delivery.pending(), 0)
  t.match(state.deliveries, [{ status: null, error: 'timeout' }])
  const payload = JSON.parse(hook.received[0]!.body) as { installation: { html_url: string } }
  t.equal(payload.installation.html_url, `http://sim.example/settings/installations/${installation.id}`)
})

t.test('without a webhook URL nothing is sent or recorded; before listen, payload URLs use localhost', async (t) => {
  const { b, sim, state } = await started(t, undefined)
  await b.signIn('mona')
  await b.get(`${PERMISSIONS}?suggested_target_id=1`)
  await b.post(PERMISSIONS, { target_id: '1', repository_selection: 'all' })
  t.equal(sim.delivery.pending(), 0)
  await sim.delivery.settle()
  t.same(state.deliveries, [])

  const hook = await receiver(t)
  const world = demoWorld()
  world.app.webhook_url = hook.url
  const injected = await buildSimulator({ world, logLevel: 'silent' })
  const inst = injected.state.install(100, 'all', []).installation
  injected.state.onEvent({ name: 'installation', action: 'suspend', installation: inst, sender: injected.state.users.get(1)! })
  await injected.app.close()
  t.equal(hook.received.length, 1, 'closing the simulator waits for deliveries under way')
  const payload = await verified(hook.received[0]!)
  t.match(payload, { action: 'suspend', installation: { repositories_url: 'http://localhost/api/v3/installation/repositories', account: { login: 'acme', type: 'Organization' } }, requester: null })
  t.notOk('repositories' in payload, 'suspend lists no repositories')
})
