import { createHash, randomBytes } from 'node:crypto'
import { sharedKeyPair } from '../../helpers/keys.js'
import { App, Octokit } from 'octokit'
import t, { type Test } from 'tap'
import { buildSimulator } from '../../../src/simulator/server.js'
import type { SimState } from '../../../src/simulator/state.js'
import { demoWorld, startSimulator } from '../../helpers/simulator.js'
import { Browser, query } from './browser.js'

const CALLBACK = 'http://localhost:3000/auth/callback'
const CLIENT = { client_id: 'Iv1.simacmeci', client_secret: 'sim-client-secret' }

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** A code for `login`, through the pages, as a browser gets it. */
async function codeFor(b: Browser, login: string, params: Record<string, string> = {}): Promise<string> {
  await b.signIn(login)
  await b.get(`/login/oauth/authorize?${new URLSearchParams({ client_id: CLIENT.client_id, ...params }).toString()}`)
  const res = await b.post('/login/oauth/authorize', { client_id: CLIENT.client_id, ...params, decision: 'authorize' })
  return query(res.location).get('code')!
}

async function simulator(t: Test) {
  const sim = await buildSimulator({ world: demoWorld(), logLevel: 'silent', madeKeyPair: sharedKeyPair() })
  t.teardown(() => sim.app.close())
  const b = new Browser(sim.app)
  const exchange = async (body: Record<string, string>, json = false) => {
    const res = await sim.app.inject({
      method: 'POST',
      url: '/login/oauth/access_token',
      headers: json ? { accept: 'application/json', 'content-type': 'application/json' } : { 'content-type': 'application/x-www-form-urlencoded' },
      payload: json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
    })
    t.equal(res.statusCode, 200, 'GitHub answers 200 even for errors')
    return { type: res.headers['content-type'], data: (json ? res.json() : Object.fromEntries(new URLSearchParams(res.body))) as Record<string, string> }
  }
  return { app: sim.app, state: sim.state, b, exchange }
}

function userOf(state: SimState, token: unknown) {
  return state.tokens.get(String(token))
}

t.test('a code becomes an expiring user token with a refresh token, form-encoded by default', async (t) => {
  const { b, state, exchange } = await simulator(t)
  const code = await codeFor(b, 'mona', { redirect_uri: CALLBACK })
  const { type, data } = await exchange({ ...CLIENT, code, redirect_uri: CALLBACK })
  t.match(type, /^application\/x-www-form-urlencoded/)
  t.match(data, {
    access_token: /^ghu_[A-Za-z0-9]{36}$/,
    expires_in: '28800',
    refresh_token: /^ghr_[A-Za-z0-9]{36}$/,
    refresh_token_expires_in: '15897600',
    scope: '',
    token_type: 'bearer',
  })
  t.match(userOf(state, data['access_token']), { kind: 'user', userId: 1 })
  t.equal(state.codes.size, 0, 'the code is spent')
  const again = await exchange({ ...CLIENT, code, redirect_uri: CALLBACK })
  t.same(again.data, {
    error: 'bad_verification_code',
    error_description: 'The code passed is incorrect or expired.',
    error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code',
  })
})

t.test('JSON in and out with Accept: application/json; parameters in the query string work too', async (t) => {
  const { app, b, exchange } = await simulator(t)
  const code = await codeFor(b, 'octo')
  const { type, data } = await exchange({ ...CLIENT, code }, true)
  t.match(type, /^application\/json/)
  t.match(data, { access_token: /^ghu_/, expires_in: 28800, refresh_token_expires_in: 15897600, scope: '', token_type: 'bearer' })
  const code2 = await codeFor(b, 'octo')
  const res = await app.inject({ method: 'POST', url: `/login/oauth/access_token?${new URLSearchParams({ ...CLIENT, code: code2 }).toString()}`, headers: { accept: 'application/json' } })
  t.match(res.json(), { access_token: /^ghu_/ })
})

t.test('PKCE: the right verifier works, a wrong or missing one does not', async (t) => {
  const { b, exchange } = await simulator(t)
  const { verifier, challenge } = pkce()
  const params = { code_challenge: challenge, code_challenge_method: 'S256' }
  const right = await exchange({ ...CLIENT, code: await codeFor(b, 'mona', params), code_verifier: verifier })
  t.match(right.data, { access_token: /^ghu_/ })
  const wrong = await exchange({ ...CLIENT, code: await codeFor(b, 'mona', params), code_verifier: pkce().verifier })
  t.match(wrong.data, { error: 'bad_verification_code', error_description: /code_verifier/ })
  const missing = await exchange({ ...CLIENT, code: await codeFor(b, 'mona', params) })
  t.match(missing.data, { error: 'bad_verification_code' })
  const unasked = await exchange({ ...CLIENT, code: await codeFor(b, 'mona'), code_verifier: verifier })
  t.match(unasked.data, { access_token: /^ghu_/ }, 'a verifier without a challenge is ignored')
})

t.test('expired codes, wrong secrets, wrong client ids and wrong redirect URIs are refused', async (t) => {
  const { b, state, exchange } = await simulator(t)
  const expired = await codeFor(b, 'mona')
  state.codes.get(expired)!.expiresAt = new Date(Date.now() - 1)
  t.match((await exchange({ ...CLIENT, code: expired })).data, { error: 'bad_verification_code' })
  const code = await codeFor(b, 'mona', { redirect_uri: CALLBACK })
  const creds = {
    error: 'incorrect_client_credentials',
    error_description: 'The client_id and/or client_secret passed are incorrect.',
    error_uri: /#incorrect-client-credentials$/,
  }
  t.match((await exchange({ ...CLIENT, client_secret: 'wrong', code })).data, creds)
  t.match((await exchange({ client_id: CLIENT.client_id, code })).data, creds, 'no secret')
  t.match((await exchange({ ...CLIENT, client_id: 'legacy-oauth-client', code })).data, creds)
  t.ok(state.codes.has(code), 'a request with wrong credentials does not spend the code')
  t.match((await exchange({ ...CLIENT, code, redirect_uri: `${CALLBACK}/other` })).data, {
    error: 'redirect_uri_mismatch',
    error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
  })
  t.match((await exchange({ ...CLIENT })).data, { error: 'bad_verification_code' }, 'no code')
  t.match((await exchange({ ...CLIENT, grant_type: 'password', code })).data, { error: 'unsupported_grant_type' })
})

t.test('a refresh token gives a new pair once; expired and unknown ones are refused', async (t) => {
  const { b, state, exchange } = await simulator(t)
  const first = (await exchange({ ...CLIENT, code: await codeFor(b, 'hubot') })).data
  const refreshed = (await exchange({ ...CLIENT, grant_type: 'refresh_token', refresh_token: first['refresh_token']! })).data
  t.match(refreshed, { access_token: /^ghu_/, refresh_token: /^ghr_/, expires_in: '28800' })
  t.not(refreshed['access_token'], first['access_token'])
  t.match(userOf(state, refreshed['access_token']), { kind: 'user', userId: 2 })
  const bad = { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' }
  t.match((await exchange({ ...CLIENT, grant_type: 'refresh_token', refresh_token: first['refresh_token']! })).data, bad, 'used once')
  t.match((await exchange({ ...CLIENT, grant_type: 'refresh_token' })).data, bad, 'none')
  state.refreshTokens.get(refreshed['refresh_token']!)!.expiresAt = new Date(Date.now() - 1)
  t.match((await exchange({ ...CLIENT, grant_type: 'refresh_token', refresh_token: refreshed['refresh_token']! })).data, bad, 'expired')
  t.match((await exchange({ ...CLIENT, client_secret: 'x', grant_type: 'refresh_token', refresh_token: 'ghr_x' })).data, { error: 'incorrect_client_credentials' })
})

t.test("octokit's web-flow code exchange and refresh work against the simulator (GHES layout)", async (t) => {
  const started = await startSimulator(t)
  const b = new Browser(started.sim.app)
  const app = new App({
    appId: 9001,
    privateKey: started.privateKey,
    oauth: CLIENT_OAUTH,
    Octokit: Octokit.defaults({ baseUrl: started.apiUrl }),
  })
  const created = await app.oauth.createToken({ code: await codeFor(b, 'mona', { redirect_uri: CALLBACK }), redirectUrl: CALLBACK })
  t.match(created.authentication, { clientType: 'github-app', token: /^ghu_/, refreshToken: /^ghr_/, expiresAt: String, refreshTokenExpiresAt: String })
  const expiresIn = Date.parse((created.authentication as { expiresAt: string }).expiresAt) - Date.now()
  t.ok(expiresIn > 7.9 * 3600_000 && expiresIn <= 8 * 3600_000 + 2000, 'eight hours')
  t.match(started.state.tokens.get(created.authentication.token), { kind: 'user', userId: 1 })
  const refreshed = await app.oauth.refreshToken({ refreshToken: (created.authentication as { refreshToken: string }).refreshToken })
  t.match(refreshed.authentication, { token: /^ghu_/ })
  await t.rejects(app.oauth.createToken({ code: 'nope' }), { status: 400, message: /The code passed is incorrect or expired\. \(bad_verification_code/ })
  const me = await new Octokit({ baseUrl: started.apiUrl, auth: refreshed.authentication.token }).rest.users.getAuthenticated()
  t.equal(me.data.login, 'mona', 'the token works on the API')
})

const CLIENT_OAUTH = { clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }
