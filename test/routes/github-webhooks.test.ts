import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { signature } from '../../src/simulator/delivery.js'
import { installWithEvents } from '../../src/simulator/install-events.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { settled, view } from '../helpers/wizard.js'
import { MONA, SECRET, ownerSection, type Delivery, post, bodyOf, recorded, auditOf, batchOf } from '../helpers/webhook-world.js'

// POST /github/webhooks, the App's webhook URL: only signed deliveries, each taken once,
// answered at once with the work queued. What the work does to the batches of the
// installation's account, as the user sees it on /migrate, is in github-webhook-work.test.ts
// (two files, so that each stays well within tap's per-file timeout when files run side by
// side). GitHub's side is the simulator, whose deliveries arrive signed over HTTP as GitHub's do.

t.test('an unsigned or wrongly signed delivery is refused with 401, and nothing is recorded', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const mona = sim.state.userByLogin('mona')!
  delete sim.state.app.webhook_url
  const { installation } = installWithEvents(sim.state, MONA, 'all', [], mona)
  const body = bodyOf(service, { name: 'installation', action: 'created', installation, sender: mona })
  const nothing = await recorded(service)

  const attempts: Record<string, Delivery> = {
    'no signature': { body, signature: '' },
    'signed with another secret': { body, signature: signature('sha256', 'not-the-secret', body) },
    'the signature of another body': { body: body.replace('"created"', '"deleted"'), signature: signature('sha256', SECRET, body) },
    'a SHA-1 signature': { body, signature: signature('sha1', SECRET, body) },
    'the hex of the right signature alone': { body, signature: signature('sha256', SECRET, body).slice('sha256='.length) },
    'garbage': { body, signature: 'sha256=zzz' },
  }
  for (const [what, attempt] of Object.entries(attempts)) {
    const res = await post(app, { event: 'installation', deliveryId: randomUUID(), ...attempt })
    t.equal(res.statusCode, 401, `${what}: 401`)
    t.match(res.json(), { error: /signature is missing or does not match/ }, `${what}: says why`)
  }
  await settled(service)
  t.same(await recorded(service), nothing, 'no delivery taken, no audit event, no job, no installation')
})

t.test('a delivery that lacks what GitHub always sends is refused with 400, and nothing is recorded', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const mona = sim.state.userByLogin('mona')!
  delete sim.state.app.webhook_url
  const { installation } = installWithEvents(sim.state, MONA, 'all', [], mona)
  const body = bodyOf(service, { name: 'installation', action: 'created', installation, sender: mona })
  const nothing = await recorded(service)

  const cases: Record<string, [Delivery, RegExp]> = {
    'no X-GitHub-Delivery': [{ event: 'installation', body }, /names its X-GitHub-Delivery and X-GitHub-Event/],
    'no X-GitHub-Event': [{ deliveryId: randomUUID(), body }, /names its X-GitHub-Delivery and X-GitHub-Event/],
    'no headers at all, not even a signature': [{ body, signature: '' }, /names its X-GitHub-Delivery and X-GitHub-Event/],
    'an empty body': [{ event: 'installation', deliveryId: randomUUID(), body: '', signature: 'sha256=00' }, /has a JSON body/],
    'a form instead of JSON': [{ event: 'installation', deliveryId: randomUUID(), body: `payload=${encodeURIComponent(body)}`, contentType: 'application/x-www-form-urlencoded' }, /has a JSON body/],
    'a body that is not JSON': [{ event: 'installation', deliveryId: randomUUID(), body: '{"action": "created",' }, /not JSON/],
    'no installation': [{ event: 'installation', deliveryId: randomUUID(), body: JSON.stringify({ action: 'created', sender: { id: 1, login: 'mona' } }) }, /names no installation account/],
    'an installation without its account': [
      { event: 'installation', deliveryId: randomUUID(), body: JSON.stringify({ action: 'created', installation: { ...JSON.parse(body).installation, account: null }, sender: { id: 1, login: 'mona' } }) },
      /names no installation account/,
    ],
  }
  for (const [what, [delivery, says]] of Object.entries(cases)) {
    const res = await post(app, delivery)
    t.equal(res.statusCode, 400, `${what}: 400`)
    t.match(res.json(), { error: says }, `${what}: says why`)
  }
  await settled(service)
  t.same(await recorded(service), nothing, 'nothing recorded')
})

t.test('other events (push, ping) are answered 202 and ignored', async (t) => {
  const service = await serviceWithGitHub(t)
  const nothing = await recorded(service)
  for (const [event, body] of [
    ['push', JSON.stringify({ ref: 'refs/heads/main', repository: { id: 1000, full_name: 'mona/dotfiles' }, installation: { id: 1 }, sender: { id: 1, login: 'mona' } })],
    ['ping', JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 9001 })],
  ] as const) {
    const res = await post(service.app, { event, deliveryId: randomUUID(), body })
    t.equal(res.statusCode, 202, `${event}: 202`)
    t.same(res.json(), { ignored: event })
  }
  await settled(service)
  t.same(await recorded(service), nothing, 'nothing recorded, nothing queued')
})

t.test('a redelivery (the same X-GitHub-Delivery) is taken once', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  await view(app, cookie)
  const mona = sim.state.userByLogin('mona')!
  // GitHub's own delivery held back: this test sends it, twice, as GitHub redelivers.
  delete sim.state.app.webhook_url
  const { installation } = installWithEvents(sim.state, MONA, 'all', [], mona)
  const body = bodyOf(service, { name: 'installation', action: 'created', installation, sender: mona })
  const deliveryId = randomUUID()

  const first = await post(app, { event: 'installation', deliveryId, body })
  t.equal(first.statusCode, 202)
  t.same(first.json(), { queued: deliveryId })
  const again = await post(app, { event: 'installation', deliveryId, body })
  t.equal(again.statusCode, 200, 'a redelivery is fine with GitHub')
  t.same(again.json(), { duplicate: deliveryId })
  await settled(service)
  const after = await post(app, { event: 'installation', deliveryId, body })
  t.equal(after.statusCode, 200, 'and so is one after the work was done')

  const r = await recorded(service)
  t.match(r.deliveries, [{ delivery_id: deliveryId, event: 'installation', action: 'created', installation_id: installation.id }])
  t.equal(r.deliveries.length, 1)
  t.equal(r.jobs.length, 1, 'one job')
  t.equal(r.received.length, 1, 'one webhook_received')
  t.match(r.received, [{ actor_kind: 'github', actor_login: 'mona', owner_login: 'mona', installation_id: installation.id, outcome: 'queued', detail: { deliveryId, event: 'installation', action: 'created' } }])
  t.equal((await auditOf(service, 'installation_created')).length, 1, 'the work done once')
  t.equal((await auditOf(service, 'coverage_checked')).length, 1)
  t.match(await ownerSection(service, cookie, 'mona'), /Covered[\s\S]*3 covered/)
})

t.test('GitHub gets its answer before the work is done: the work is queued and runs afterwards', async (t) => {
  const service = await serviceWithGitHub(t)
  const { app, sim, tdb } = service
  const cookie = await signIn(app, sim, MONA)
  await view(app, cookie)
  // Hold every write to app.installation, the job's first step; the webhook route writes none.
  const holder = new pg.Client({ connectionString: tdb.url })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query('begin')
  await holder.query('lock table app.installation in exclusive mode')

  // mona installs the App on her account on GitHub, without going through the wizard.
  const { installation } = installWithEvents(sim.state, MONA, 'all', [], sim.state.userByLogin('mona')!)
  await sim.sim.delivery.settle()
  t.match(sim.state.deliveries, [{ event: 'installation', action: 'created', installationId: installation.id, status: 202 }], 'GitHub got 202 while the work was held')
  const held = await recorded(service)
  t.match(held.jobs, [{ state: /^(created|active)$/, data: { deliveryId: sim.state.deliveries[0]!.id } }], 'the job is queued, not done')
  t.same(held.installations, [], 'nothing applied yet')
  t.match(held.received, [{ outcome: 'queued' }])
  t.match(await batchOf(service, 'mona'), { installation_id: null })

  await holder.query('commit')
  await settled(service)
  const done = await recorded(service)
  t.match(done.jobs, [{ state: 'completed' }], 'the job ran afterwards')
  t.match(done.installations, [{ id: installation.id, account_login: 'mona', repository_selection: 'all' }])
  t.match(await batchOf(service, 'mona'), { state: 'installed', installation_id: installation.id })
  t.match(await ownerSection(service, cookie, 'mona'), /Covered[\s\S]*3 covered/)
  const order = (await tdb.db.selectFrom('app.audit_event').select('action').where('action', 'in', ['webhook_received', 'installation_created', 'coverage_checked']).orderBy('id').execute()).map((e) => e.action)
  t.same(order, ['webhook_received', 'installation_created', 'coverage_checked'])
})
