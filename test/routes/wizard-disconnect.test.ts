import t from 'tap'
import type { Test } from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import type { World } from '../../src/simulator/world.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { demoWorld } from '../helpers/simulator.js'
import { csrfOf, formAction, settled, view } from '../helpers/wizard.js'

// The last step: once every old webhook has its outcome, the old app's grant is revoked
// (DELETE /applications/{client_id}/grant), confirmed by the old token's 401, and recorded.

/** mona's three owners all installed on; the legacy app's secret known to both sides unless told. */
function world(secret: string | null = 'legacy-client-secret'): World {
  const w = demoWorld()
  if (secret === null) delete w.legacy_oauth_app.client_secret
  else w.legacy_oauth_app.client_secret = secret
  w.installations = [
    { id: 500, account: 'mona', repository_selection: 'selected', repositories: [1000, 1001, 1002] },
    { id: 501, account: 'acme', repository_selection: 'all' },
    { id: 502, account: 'widgets', repository_selection: 'all' },
  ]
  return w
}

/** mona signed in, agreed to removal everywhere, and every old hook dealt with. */
async function monaDone(t: Test, w = world(), overrides = {}): Promise<{ service: Service; cookie: string }> {
  const service = await serviceWithGitHub(t, w, overrides)
  const cookie = await signIn(service.app, service.sim, 1)
  const page = await view(service.app, cookie)
  t.notMatch(page.body, 'Disconnect the old app', 'not before every old webhook has its outcome')
  const refused = await post(service, cookie, '/migrate/disconnect', page.body)
  t.equal(refused.statusCode, 409, 'nor by a POST')
  await post(service, cookie, formAction(page.body, /Remove \d+ old webhooks/), page.body, { auto: 'on' })
  await settled(service)
  return { service, cookie }
}

function post(service: Service, cookie: string, url: string, body: string, payload: Record<string, string> = {}) {
  return service.app.inject({ method: 'POST', url, cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(body), ...payload } })
}

async function grantEvents(service: Service) {
  return service.tdb.db.selectFrom('app.audit_event').select(['outcome', 'reason', 'detail']).where('action', '=', 'legacy_grant_revoked').execute()
}

t.test('every old hook dealt with: "Disconnect the old app" revokes the grant, and the old token stops working', async (t) => {
  const { service, cookie } = await monaDone(t)
  const page = await view(service.app, cookie)
  t.equal(page.body.match(/<span class="status ok">Done<\/span>/g)?.length, 3, 'all three owners done')
  const res = await post(service, cookie, formAction(page.body, 'Disconnect the old app'), page.body)
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/migrate#disconnect')
  t.equal(service.sim.state.users.get(1)!.legacyToken, null, 'GitHub revoked it')
  t.match(await grantEvents(service), [{ outcome: 'revoked', detail: { confirmed: true } }])
  const after = await view(service.app, cookie)
  t.match(after.body, /The old app <span class="status ok">Disconnected<\/span>/)
  t.notMatch(after.body, 'Disconnect the old app')
  const deletes = service.sim.state.apiLog.filter((e) => e.path.startsWith('/applications/'))
  t.same(deletes.map((e) => [e.method, e.status]), [['DELETE', 204]])
})

t.test('the grant gone already (revoked on GitHub): nothing to revoke, recorded as such', async (t) => {
  const { service, cookie } = await monaDone(t)
  const page = await view(service.app, cookie)
  await service.sim.sim.app.inject({ method: 'POST', url: '/_sim/users/mona/revoke-legacy-token' })
  t.equal((await post(service, cookie, '/migrate/disconnect', page.body)).statusCode, 303)
  t.match(await grantEvents(service), [{ outcome: 'already', detail: { status: 404 } }])
  t.match((await view(service.app, cookie)).body, 'Disconnected')
})

t.test('GitHub refuses the credentials: said, with the way to do it by hand; GitHub down: nothing changed', async (t) => {
  const { service, cookie } = await monaDone(t, world('the-real-secret'), { legacy: { hookUrl: 'https://ci.example.com/hooks/github', oauthApp: { clientId: 'legacy-oauth-client', clientSecret: 'a-stale-secret' } } })
  const page = await view(service.app, cookie)
  const refused = await post(service, cookie, '/migrate/disconnect', page.body)
  t.equal(refused.statusCode, 502)
  t.match(refused.body, `Revoke it yourself on GitHub, at ${service.sim.url}/settings/applications`)
  t.match(await grantEvents(service), [{ outcome: 'failed', reason: /HTTP 401/ }])
  t.not(service.sim.state.users.get(1)!.legacyToken, null)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'DELETE /applications/{client_id}/grant', status: 502, rate: 1 }] } })
  const down = await post(service, cookie, '/migrate/disconnect', page.body)
  t.equal(down.statusCode, 503)
  t.equal((await grantEvents(service)).length, 1, 'nothing recorded: nothing happened')
})

t.test("without the legacy app's credentials: the way to revoke it on GitHub", async (t) => {
  const { service, cookie } = await monaDone(t, world(null))
  const page = await view(service.app, cookie)
  t.match(page.body, `<a class="button primary" href="${service.sim.url}/settings/applications">Revoke the old app on GitHub</a>`)
  const res = await post(service, cookie, '/migrate/disconnect', page.body)
  t.equal(res.statusCode, 409)
  t.match(res.body, 'revoke it on GitHub')
})

t.test('no legacy token on record: nothing to revoke', async (t) => {
  const { service, cookie } = await monaDone(t)
  const page = await view(service.app, cookie)
  await service.tdb.db.updateTable('legacy.oauth_users').set({ oauth_token: null }).where('github_user_id', '=', 1).execute()
  t.equal((await post(service, cookie, '/migrate/disconnect', page.body)).statusCode, 303)
  t.match(await grantEvents(service), [{ outcome: 'already', detail: { why: 'no legacy token on record' } }])
  t.equal(service.sim.state.apiLog.filter((e) => e.path.startsWith('/applications/')).length, 0)
})

t.test('GitHub answers the revocation 404 while the token still works: failed, and said', async (t) => {
  const { service, cookie } = await monaDone(t)
  const page = await view(service.app, cookie)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'DELETE /applications/{client_id}/grant', status: 404, rate: 1 }] } })
  t.equal((await post(service, cookie, '/migrate/disconnect', page.body)).statusCode, 502)
  t.match(await grantEvents(service), [{ outcome: 'failed', reason: /HTTP 404/ }])
  t.not(service.sim.state.users.get(1)!.legacyToken, null)
})

t.test('nothing planned yet: nothing to disconnect', async (t) => {
  const service = await serviceWithGitHub(t, world())
  const cookie = await signIn(service.app, service.sim, 3)
  const home = await service.app.inject({ url: '/', cookies: { [SESSION_COOKIE]: cookie } })
  const res = await post(service, cookie, '/migrate/disconnect', home.body)
  t.equal(res.statusCode, 409)
  t.equal((await grantEvents(service)).length, 0)
})
