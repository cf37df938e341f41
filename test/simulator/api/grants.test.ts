import t from 'tap'
import type { World } from '../../../src/simulator/world.js'
import { demoWorld, startSimulator } from '../../helpers/simulator.js'

// DELETE /applications/{client_id}/grant: only the legacy OAuth app's own client id and secret,
// as Basic credentials, revoke a user's grant; every legacy token of that user stops working.

const MONA = 'gho_legacy_mona_0001'

function withSecret(): World {
  const world = demoWorld()
  world.legacy_oauth_app.client_secret = 'legacy-secret'
  return world
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

t.test('revoked with the right credentials and a token of the app; every other request refused and nothing changed', async (t) => {
  const sim = await startSimulator(t, withSecret())
  const revoke = (authorization: string | undefined, body: unknown, clientId = 'legacy-oauth-client') =>
    sim.sim.app.inject({ method: 'DELETE', url: `/api/v3/applications/${clientId}/grant`, headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) }, payload: JSON.stringify(body) })
  const good = basic('legacy-oauth-client', 'legacy-secret')
  t.equal((await revoke(undefined, { access_token: MONA })).statusCode, 401, 'no credentials')
  t.equal((await revoke(basic('legacy-oauth-client', 'wrong'), { access_token: MONA })).statusCode, 401, 'a wrong secret')
  t.equal((await revoke(basic('another-app', 'legacy-secret'), { access_token: MONA }, 'another-app')).statusCode, 401, 'another app')
  t.equal((await revoke(good, { access_token: MONA }, 'another-app')).statusCode, 401, "the path names another app than the credentials'")
  t.equal((await revoke(`token ${MONA}`, { access_token: MONA })).statusCode, 401, "a user's token is no app's credentials")
  const missing = await revoke(good, {})
  t.equal(missing.statusCode, 422)
  t.match(missing.json(), { message: /"access_token" wasn't supplied/ })
  t.equal((await revoke(good, { access_token: 'gho_not_a_token_at_all' })).statusCode, 404, 'a token GitHub does not know')
  t.ok(sim.state.tokens.has(MONA), 'nothing revoked yet')
  const done = await revoke(good, { access_token: MONA })
  t.equal(done.statusCode, 204)
  t.notOk(sim.state.tokens.has(MONA))
  t.equal(sim.state.users.get(1)!.legacyToken, null)
  const after = await sim.sim.app.inject({ url: '/api/v3/user', headers: { authorization: `token ${MONA}` } })
  t.equal(after.statusCode, 401, 'the old token is refused')
  t.equal((await revoke(good, { access_token: MONA })).statusCode, 404, 'twice: the token is gone')
})

t.test('Basic credentials anywhere else, or a world without the secret: 401', async (t) => {
  const sim = await startSimulator(t)
  const elsewhere = await sim.sim.app.inject({ url: '/api/v3/user', headers: { authorization: basic('legacy-oauth-client', 'x') } })
  t.equal(elsewhere.statusCode, 401)
  const res = await sim.sim.app.inject({
    method: 'DELETE',
    url: '/api/v3/applications/legacy-oauth-client/grant',
    headers: { 'content-type': 'application/json', authorization: basic('legacy-oauth-client', '') },
    payload: JSON.stringify({ access_token: MONA }),
  })
  t.equal(res.statusCode, 401)
  t.ok(sim.state.tokens.has(MONA))
})
