import t from 'tap'
import { authorizationUrl, createPkce, exchangeCode, OAuthExchangeError } from '../../src/github/oauth.js'
import { startSimulator } from '../helpers/simulator.js'
import { clientFor } from '../helpers/simulator.js'

const REDIRECT = 'http://localhost:3000/auth/callback'

t.test('the authorize URL carries the client, the callback, the state and an S256 challenge', async (t) => {
  const pkce = createPkce()
  t.match(pkce.verifier, /^[A-Za-z0-9_-]{43}$/)
  t.not(createPkce().verifier, pkce.verifier)
  const url = new URL(authorizationUrl({ webUrl: 'https://ghe.example.com', clientId: 'Iv1.x', redirectUri: REDIRECT, state: 's1', codeChallenge: pkce.challenge }))
  t.equal(url.origin + url.pathname, 'https://ghe.example.com/login/oauth/authorize')
  t.same(Object.fromEntries(url.searchParams), { client_id: 'Iv1.x', redirect_uri: REDIRECT, state: 's1', code_challenge: pkce.challenge, code_challenge_method: 'S256' })
})

t.test('a code and its verifier become an expiring user token that works on the API', async (t) => {
  const sim = await startSimulator(t)
  const app = sim.state.app
  const pkce = createPkce()
  const code = 'sim-test-code-1'
  sim.state.codes.set(code, { clientId: app.client_id, userId: 1, redirectUri: REDIRECT, codeChallenge: pkce.challenge, expiresAt: new Date(Date.now() + 60_000) })
  const now = Date.now()
  const token = await exchangeCode({ webUrl: sim.url, clientId: app.client_id, clientSecret: app.client_secret, code, redirectUri: REDIRECT, codeVerifier: pkce.verifier }, now)
  t.match(token.token, /^ghu_/)
  t.match(token.refreshToken, /^ghr_/)
  t.equal(token.expiresAt?.getTime(), now + 8 * 3600_000)
  t.ok(token.refreshTokenExpiresAt! > token.expiresAt!)
  const { data } = await clientFor(sim.apiUrl, token.token).request('GET /user')
  t.equal(data.login, 'mona')

  // The code is spent, and a wrong verifier never works.
  await t.rejects(
    exchangeCode({ webUrl: sim.url, clientId: app.client_id, clientSecret: app.client_secret, code, redirectUri: REDIRECT, codeVerifier: pkce.verifier }),
    new OAuthExchangeError('bad_verification_code', ''),
  )
  sim.state.codes.set('sim-test-code-2', { clientId: app.client_id, userId: 1, redirectUri: REDIRECT, codeChallenge: pkce.challenge, expiresAt: new Date(Date.now() + 60_000) })
  const wrong = await exchangeCode({ webUrl: sim.url, clientId: app.client_id, clientSecret: app.client_secret, code: 'sim-test-code-2', redirectUri: REDIRECT, codeVerifier: createPkce().verifier }).catch((e: unknown) => e)
  t.type(wrong, OAuthExchangeError)
  t.equal((wrong as OAuthExchangeError).error, 'bad_verification_code')
})

t.test('a token without expiry, and a reply that is not GitHub', async (t) => {
  const replies: [number, string][] = [
    [200, JSON.stringify({ access_token: 'gho_classic_token_value', token_type: 'bearer', scope: '' })],
    [502, '<html>Bad gateway</html>'],
    [500, JSON.stringify({ message: 'boom' })],
  ]
  const fake = (async () => {
    const [status, body] = replies.shift()!
    return new Response(body, { status, headers: { 'content-type': 'application/json' } })
  }) as typeof fetch
  const params = { webUrl: 'http://127.0.0.1:1', clientId: 'c', clientSecret: 's', code: 'x', redirectUri: REDIRECT, codeVerifier: 'v', fetch: fake }
  t.same(await exchangeCode(params), { token: 'gho_classic_token_value' }, 'no expiry or refresh token when GitHub sends none')
  await t.rejects(exchangeCode(params), { name: 'OAuthExchangeError', error: 'unreadable_reply', message: /HTTP 502/ })
  await t.rejects(exchangeCode(params), { name: 'OAuthExchangeError', error: 'http_500', message: 'GitHub did not return a token' })
})
