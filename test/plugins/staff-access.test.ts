import Fastify from 'fastify'
import t from 'tap'
import { staffAccessPlugin } from '../../src/plugins/staff-access.js'
import { testDatabase } from '../helpers/database.js'
import type { Service } from '../helpers/service.js'
import { MONA, OLGA, SAM, staffService } from '../helpers/staff.js'
import { settled } from '../helpers/wizard.js'

// Who sees the staff console: support staff and operators named in STAFF, each in their role;
// anyone else (a visitor, a user of the wizard, a stranger under a former staff login) finds
// no page there at all, and every staff page view is on the record.

const staffViews = (service: Service) => service.tdb.db.selectFrom('app.audit_event').select(['actor_login', 'actor_kind', 'detail']).where('action', '=', 'staff_view').orderBy('id').execute()

t.test('every staff route: 404 for a visitor and a plain user, the page for each role it names', async (t) => {
  const service = await staffService(t)
  const routes = service.app.staffRoutes.filter((r) => r.method === 'GET')
  t.ok(routes.length > 0, 'the console has routes')
  const readers = { visitor: await service.as(undefined), mona: await service.as(MONA), sam: await service.as(SAM), olga: await service.as(OLGA) }
  // mona plans: there is a user, accounts and events to show.
  t.equal((await readers.mona('/migrate')).statusCode, 200)
  await settled(service)
  const event = await service.tdb.db.selectFrom('app.audit_event').select('id').orderBy('id').executeTakeFirstOrThrow()
  // A real address for each route with parameters (a new route with parameters must be named here).
  const samples: Record<string, string> = { '/staff/audit/:id': `/staff/audit/${event.id}`, '/staff/timeline/:kind/:id': '/staff/timeline/user/1', '/staff/search': '/staff/search?q=mona' }
  for (const route of routes) {
    const url = samples[route.url] ?? route.url
    t.notMatch(url, /:/, `${route.url} has a sample address`)
    const expected = { visitor: 404, mona: 404, sam: route.role === 'support' ? 200 : 404, olga: 200 }
    for (const [who, read] of Object.entries(readers)) {
      const res = await read(url)
      t.equal(res.statusCode, expected[who as keyof typeof expected], `${who} ${route.url}`)
      if (res.statusCode === 404) t.match(res.body, /There is no page at this address\./)
    }
  }
})

t.test('a stranger learns nothing: every /staff address answers as a missing page, even with a bad query, and is not recorded', async (t) => {
  const service = await staffService(t)
  for (const read of [await service.as(undefined), await service.as(MONA)]) {
    for (const url of ['/staff/inventory', '/staff/inventory?page=zero', '/staff', '/staff?x=1', '/staff/', '/staff/not-built-yet', '/%73taff/inventory']) {
      const res = await read(url)
      t.equal(res.statusCode, 404, url)
      t.match(res.body, /404 · Not Found/)
      t.notMatch(res.body, /Legacy inventory|Owners|querystring/)
    }
  }
  t.equal((await service.app.inject({ url: '/staffing' })).statusCode, 404)
  t.same(await staffViews(service), [], 'nothing recorded for them')
  // Word for word, header included: a signed-in customer is shown signed in at both.
  const mona = await service.as(MONA)
  const page = async (url: string) => (await mona(url)).body.replace(/name="_csrf" value="[^"]*"/g, '')
  const missing = await page('/no-such-page')
  t.match(missing, /Signed in as <strong>mona<\/strong>/)
  t.equal(await page('/staff'), missing, "/staff reads as a missing page does, for mona too")
})

t.test('each staff page view is an audit event: who, in which role, which address', async (t) => {
  const service = await staffService(t)
  const sam = await service.as(SAM)
  t.equal((await sam('/staff/inventory?q=acme')).statusCode, 200)
  t.same(await staffViews(service), [{ actor_login: 'sam', actor_kind: 'staff', detail: { role: 'support', method: 'GET', url: '/staff/inventory?q=acme' } }])
})

t.test('the header links the console for staff only', async (t) => {
  const service = await staffService(t)
  t.match((await (await service.as(SAM))('/')).body, /href="\/staff"/)
  t.notMatch((await (await service.as(MONA))('/')).body, /href="\/staff\//)
})

t.test('a staff login taken over by another GitHub account is refused, and the refusal recorded', async (t) => {
  const service = await staffService(t)
  t.equal((await (await service.as(SAM))('/staff/inventory')).statusCode, 200, 'sam, account 10, is pinned to the login')
  // sam renames the account; hubot (account 2) takes the free login "sam".
  service.sim.state.users.get(SAM)!.login = 'sam-elsewhere'
  service.sim.state.users.get(2)!.login = 'sam'
  const impostor = await service.as(2)
  t.equal((await impostor('/staff/inventory')).statusCode, 404)
  const refused = await service.tdb.db.selectFrom('app.audit_event').select(['actor_github_id', 'reason']).where('action', '=', 'staff_refused').execute()
  t.match(refused, [{ actor_github_id: 2, reason: /staff login sam belongs to GitHub account 10/ }])
  t.equal((await staffViews(service)).length, 1, 'only the real sam ever viewed a page')
})

t.test('a staff route that names no role stops the service from starting', async (t) => {
  const tdb = await testDatabase(t)
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(staffAccessPlugin, { db: tdb.db, staff: new Map() })
  let failure: unknown
  try {
    app.get('/staff/forgotten', async () => 'open to all?')
    await app.ready()
  } catch (error) {
    failure = error
  }
  t.match(failure, { message: /\/staff\/forgotten: a staff route must name the least role/ })
})
