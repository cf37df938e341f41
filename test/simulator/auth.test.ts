import { sign } from 'node:crypto'
import t from 'tap'
import { rsaKeyPair } from '../helpers/keys.js'
import { appFor, demoWorld, startSimulator } from '../helpers/simulator.js'

// How the API authenticates, header by header, as GitHub does.

function jwt(privateKey: string, claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' }): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const data = `${encode(header)}.${encode(claims)}`
  return `${data}.${sign('RSA-SHA256', Buffer.from(data), privateKey).toString('base64url')}`
}

async function call(apiUrl: string, path: string, authorization?: string) {
  const res = await fetch(`${apiUrl}${path}`, { headers: authorization === undefined ? {} : { authorization } })
  return { status: res.status, body: (await res.json()) as { message: string; documentation_url: string }, headers: res.headers }
}

t.test('the App JWT: RS256 with the app key, iss the app id, ten minutes at most, a minute of skew', async (t) => {
  const sim = await startSimulator(t)
  const now = Math.floor(Date.now() / 1000)
  const app = (claims: Record<string, unknown>, key = sim.privateKey, header?: Record<string, unknown>) => call(sim.apiUrl, '/app', `Bearer ${jwt(key, claims, header)}`)
  t.equal((await app({ iat: now - 30, exp: now + 570, iss: 9001 })).status, 200, 'what octokit sends')
  t.equal((await app({ iat: now, exp: now + 600, iss: '9001' })).status, 200, 'iss as a string')
  t.equal((await app({ iat: now + 50, exp: now + 600, iss: 9001 })).status, 200, 'iat slightly ahead: clock skew')
  t.equal((await app({ iat: now - 630, exp: now - 30, iss: 9001 })).status, 200, 'exp slightly past: clock skew')
  const cases: [Record<string, unknown>, RegExp, string][] = [
    [{ iat: now - 700, exp: now - 100, iss: 9001 }, /'Expiration time' claim \('exp'\) must be a numeric value representing the future time/, 'expired'],
    [{ iat: now - 60, iss: 9001 }, /'Expiration time' claim \('exp'\) must be a numeric value/, 'no exp'],
    [{ iat: now + 120, exp: now + 600, iss: 9001 }, /'Issued at' claim \('iat'\) must be an Integer/, 'issued in the future'],
    [{ iat: now + 0.5, exp: now + 600, iss: 9001 }, /'Issued at' claim \('iat'\) must be an Integer/, 'iat not an integer'],
    [{ exp: now + 600, iss: 9001 }, /'Issued at' claim/, 'no iat'],
    [{ iat: now - 60, exp: now + 600, iss: 9001 }, /'Expiration time' claim \('exp'\) is too far in the future/, 'eleven minutes'],
    [{ iat: now, exp: now + 600, iss: 9002 }, /A JSON web token could not be decoded/, 'another app'],
  ]
  for (const [claims, message, why] of cases) {
    const res = await app(claims)
    t.equal(res.status, 401, why)
    t.match(res.body.message, message, why)
  }
  const other = rsaKeyPair().privateKey
  t.match((await app({ iat: now, exp: now + 600, iss: 9001 }, other)).body, { message: 'A JSON web token could not be decoded' }, 'signed with another key')
  t.equal((await app({ iat: now, exp: now + 600, iss: 9001 }, sim.privateKey, { alg: 'HS256' })).status, 401, 'another algorithm')
  t.equal((await call(sim.apiUrl, '/app', 'Bearer eyJub3QganNvbg.eyJ.c2ln')).status, 401, 'not JSON')
  t.equal((await call(sim.apiUrl, '/app', `Bearer eyJhbGciOiJSUzI1NiJ9.${Buffer.from('[1]').toString('base64url')}.c2ln`)).status, 401, 'claims not an object')
})

t.test('Authorization: "token X" and "Bearer X", case-insensitive; anything else is bad credentials', async (t) => {
  const sim = await startSimulator(t)
  t.equal((await call(sim.apiUrl, '/user', 'token gho_legacy_mona_0001')).status, 200)
  t.equal((await call(sim.apiUrl, '/user', 'Bearer gho_legacy_mona_0001')).status, 200)
  t.equal((await call(sim.apiUrl, '/user', 'bearer gho_legacy_mona_0001')).status, 200)
  for (const header of ['Basic Z2hvOng=', 'token', 'gho_legacy_mona_0001', 'token a b']) {
    const res = await call(sim.apiUrl, '/user', header)
    t.equal(res.status, 401, header)
    t.equal(res.body.message, 'Bad credentials')
  }
  t.equal((await call(sim.apiUrl, '/user', '')).status, 401, 'an empty header is no credential')
  t.match((await call(sim.apiUrl, '/user', '')).body.message, /Requires authentication/)
})

t.test('an installation token expires after its hour', async (t) => {
  const world = demoWorld()
  world.installations = [{ id: 7, account: 'acme', repository_selection: 'all' }]
  const sim = await startSimulator(t, world)
  const { token } = (await (await appFor(sim).getInstallationOctokit(7)).auth({ type: 'installation' })) as { token: string }
  t.equal((await call(sim.apiUrl, '/installation/repositories', `token ${token}`)).status, 200)
  const grant = sim.state.tokens.get(token)!
  if (grant.kind === 'installation') grant.expiresAt = new Date(Date.now() - 1)
  t.equal((await call(sim.apiUrl, '/installation/repositories', `token ${token}`)).status, 401)
  t.match(sim.state.apiLog.at(-2), { tokenKind: 'installation', actor: 'installation 7', status: 200 })
  t.match(sim.state.apiLog.at(-1), { tokenKind: 'invalid', status: 401 })
})

t.test('the API log names the app for JWT calls and nobody for anonymous ones', async (t) => {
  const sim = await startSimulator(t)
  await appFor(sim).octokit.request('GET /app')
  t.match(sim.state.apiLog.at(-1), { method: 'GET', path: '/app', tokenKind: 'jwt', actor: 'app acme-ci', status: 200 })
  await call(sim.apiUrl, '/repos/mona/dotfiles?page=2')
  const entry = sim.state.apiLog.at(-1)!
  t.match(entry, { path: '/repos/mona/dotfiles', tokenKind: 'none', status: 200 })
  t.notOk('actor' in entry && entry.actor !== undefined)
})
