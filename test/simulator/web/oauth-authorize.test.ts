import { createHash, randomBytes } from 'node:crypto'
import { sharedKeyPair } from '../../helpers/keys.js'
import t, { type Test } from 'tap'
import { buildSimulator } from '../../../src/simulator/server.js'
import type { World } from '../../../src/simulator/world.js'
import { demoWorld } from '../../helpers/simulator.js'
import { Browser, query } from './browser.js'

const CALLBACK = 'http://localhost:3000/auth/callback'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'

async function browser(t: Test, world: World = demoWorld()) {
  const sim = await buildSimulator({ world, logLevel: 'silent', madeKeyPair: sharedKeyPair() })
  t.teardown(() => sim.app.close())
  return { b: new Browser(sim.app), state: sim.state }
}

function authorizeUrl(params: Record<string, string>): string {
  return `/login/oauth/authorize?${new URLSearchParams(params).toString()}`
}

const good = { client_id: 'Iv1.simacmeci', redirect_uri: CALLBACK, state: 'st-123', code_challenge: CHALLENGE, code_challenge_method: 'S256', scope: '' }

t.test('signed out: the page offers the users, and comes back to itself after sign-in', async (t) => {
  const { b } = await browser(t)
  const page = await b.get(authorizeUrl(good))
  t.equal(page.status, 200)
  t.match(page.body, 'Sign in to continue to <strong>Acme CI</strong>')
  const returnTo = /name="return_to" value="([^"]+)"/.exec(page.body)![1]!.replaceAll('&amp;', '&')
  t.match(returnTo, /^\/login\/oauth\/authorize\?client_id=Iv1\.simacmeci&redirect_uri=/)
  const signIn = await b.post('/login', { login: 'mona', return_to: returnTo })
  t.equal(signIn.location, returnTo)
  const again = await b.get(signIn.location!)
  t.match(again.body, 'Signed in as <strong>mona</strong>')
  t.match(again.body, `name="code_challenge" value="${CHALLENGE}"`)
  t.match(again.body, 'name="state" value="st-123"')
})

t.test('Authorize redirects to the callback with a one-time code and the state', async (t) => {
  const { b, state } = await browser(t)
  await b.signIn('mona')
  await b.get(authorizeUrl(good))
  const res = await b.post('/login/oauth/authorize', { ...good, decision: 'authorize' })
  t.equal(res.status, 302)
  t.match(res.location, /^http:\/\/localhost:3000\/auth\/callback\?code=[0-9a-f]{20}&state=st-123$/)
  const code = state.codes.get(query(res.location).get('code')!)!
  t.match(code, { clientId: 'Iv1.simacmeci', userId: 1, redirectUri: CALLBACK, codeChallenge: CHALLENGE })
  const lifetime = code.expiresAt.getTime() - Date.now()
  t.ok(lifetime > 9 * 60_000 && lifetime <= 10 * 60_000, 'the code lives ten minutes')
})

t.test('without redirect_uri, state or PKCE, the registered callback is used and nothing extra is sent', async (t) => {
  const { b, state } = await browser(t)
  await b.signIn('octo')
  const page = await b.get(`${authorizeUrl({ client_id: 'Iv1.simacmeci' })}&client_id=other`)
  t.equal(page.status, 200, 'a repeated parameter counts once, the first')
  t.notMatch(page.body, 'name="state"')
  t.notMatch(page.body, 'name="code_challenge"')
  t.notMatch(page.body, 'name="scope"')
  const res = await b.post('/login/oauth/authorize', { client_id: 'Iv1.simacmeci', decision: 'authorize' })
  t.match(res.location, /^http:\/\/localhost:3000\/auth\/callback\?code=[0-9a-f]{20}$/)
  const code = state.codes.get(query(res.location).get('code')!)!
  t.equal(code.redirectUri, CALLBACK)
  t.equal(code.codeChallenge, undefined)
  const slashed = await browser(t, { ...demoWorld(), app: { ...demoWorld().app, callback_url: 'http://localhost:3000/auth/' } })
  await slashed.b.signIn('octo')
  t.equal((await slashed.b.get(authorizeUrl({ client_id: 'Iv1.simacmeci', redirect_uri: 'http://localhost:3000/auth/callback' }))).status, 200, 'below a callback ending in /')
  t.equal((await slashed.b.get(authorizeUrl({ client_id: 'Iv1.simacmeci', redirect_uri: 'http://localhost:3000/authx' }))).status, 400)
  const sub = await b.post('/login/oauth/authorize', { client_id: 'Iv1.simacmeci', redirect_uri: `${CALLBACK}/deeper?x=1`, decision: 'authorize' })
  t.match(sub.location, /^http:\/\/localhost:3000\/auth\/callback\/deeper\?x=1&code=/, 'a path below the callback keeps its query')
})

t.test('Cancel redirects with access_denied and the state', async (t) => {
  const { b, state } = await browser(t)
  await b.signIn('mona')
  await b.get(authorizeUrl(good))
  const res = await b.post('/login/oauth/authorize', { ...good, decision: 'cancel' })
  t.equal(res.status, 302)
  const q = query(res.location)
  t.equal(q.get('error'), 'access_denied')
  t.equal(q.get('error_description'), 'The user has denied your application access.')
  t.match(q.get('error_uri'), /^https:\/\/docs\.github\.com\//)
  t.equal(q.get('state'), 'st-123')
  t.equal(q.get('code'), null)
  t.equal(state.codes.size, 0)
  const noState = await b.post('/login/oauth/authorize', { client_id: 'Iv1.simacmeci' })
  t.equal(query(noState.location).get('error'), 'access_denied', 'no decision is no authorization')
  t.equal(query(noState.location).get('state'), null)
})

t.test('unknown client ids and foreign redirect URIs get an error page, never a redirect', async (t) => {
  const { b } = await browser(t)
  await b.signIn('mona')
  const cases: [Record<string, string>, number, string][] = [
    [{ ...good, client_id: 'legacy-oauth-client' }, 404, 'No application has the client_id &quot;legacy-oauth-client&quot;'],
    [{ redirect_uri: CALLBACK }, 404, 'Unknown application'],
    [{ ...good, redirect_uri: 'http://evil.example/auth/callback' }, 400, 'Redirect URI mismatch'],
    [{ ...good, redirect_uri: 'http://localhost:3999/auth/callback' }, 400, 'is not associated with this application'],
    [{ ...good, redirect_uri: 'https://localhost:3000/auth/callback' }, 400, 'Redirect URI mismatch'],
    [{ ...good, redirect_uri: 'http://localhost:3000/auth/callbackx' }, 400, 'Redirect URI mismatch'],
    [{ ...good, redirect_uri: 'http://localhost:3000/github/setup' }, 400, 'Redirect URI mismatch'],
    [{ ...good, redirect_uri: 'not a url' }, 400, 'Redirect URI mismatch'],
    [{ ...good, code_challenge_method: 'plain' }, 400, 'code_challenge_method must be S256'],
    [{ ...good, code_challenge_method: '' }, 400, 'code_challenge_method must be S256'],
    [{ ...good, code_challenge: 'short' }, 400, 'Invalid code challenge'],
  ]
  for (const [params, status, text] of cases) {
    const page = await b.get(authorizeUrl(params))
    t.equal(page.status, status, JSON.stringify(params))
    t.equal(page.location, undefined)
    t.match(page.body, text)
    const post = await b.post('/login/oauth/authorize', { ...params, decision: 'authorize' })
    t.equal(post.status, status, `POST ${JSON.stringify(params)}`)
    t.equal(post.location, undefined)
  }
})

t.test('POSTs need the CSRF token; a signed-out POST goes back to the page', async (t) => {
  const { b, state } = await browser(t)
  await b.get(authorizeUrl(good))
  const out = await b.post('/login/oauth/authorize', { ...good, scope: 'user', decision: 'authorize' })
  t.equal(out.status, 303)
  t.equal(out.location, authorizeUrl({ ...good, scope: 'user' }))
  await b.signIn('mona')
  const forged = await b.post('/login/oauth/authorize', { ...good, decision: 'authorize', _csrf: 'forged' })
  t.equal(forged.status, 403)
  t.equal(state.codes.size, 0)
})

t.test('a world without callback_url accepts any redirect_uri on the setup URL host', async (t) => {
  const world = demoWorld()
  delete world.app.callback_url
  delete world.app.name
  const { b } = await browser(t, world)
  await b.signIn('mona')
  const page = await b.get(authorizeUrl({ client_id: 'Iv1.simacmeci', redirect_uri: 'http://localhost:3000/anything' }))
  t.equal(page.status, 200)
  t.match(page.body, '<title>Authorize acme-ci', 'an app without a name goes by its slug')
  t.equal((await b.get(authorizeUrl({ client_id: 'Iv1.simacmeci', redirect_uri: 'http://localhost:4000/anything' }))).status, 400)
  t.equal((await b.get(authorizeUrl({ client_id: 'Iv1.simacmeci' }))).status, 400, 'nothing to default to')
  delete world.app.setup_url
  const bare = await browser(t, world)
  await bare.b.signIn('mona')
  t.equal((await bare.b.get(authorizeUrl({ client_id: 'Iv1.simacmeci', redirect_uri: 'http://localhost:3000/anything' }))).status, 400, 'no setup URL: nothing is allowed')
})

t.test('once authorized, the page is skipped: straight back with a fresh code that exchanges with PKCE', async (t) => {
  const { b, state } = await browser(t)
  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const pkce = { ...good, code_challenge: challenge }
  await b.signIn('mona')
  const first = await b.get(authorizeUrl(pkce))
  t.equal(first.status, 200, 'the first time, GitHub asks')
  t.match(first.body, 'Authorize Acme CI</button>')
  const firstCode = query((await b.post('/login/oauth/authorize', { ...pkce, decision: 'authorize' })).location).get('code')
  t.ok(state.hasAuthorized(1, 'Iv1.simacmeci'))

  const again = await b.get(authorizeUrl({ ...pkce, state: 'st-456' }))
  t.equal(again.status, 302, 'the second time, no page')
  t.match(again.location, /^http:\/\/localhost:3000\/auth\/callback\?code=[0-9a-f]{20}&state=st-456$/)
  const code = query(again.location).get('code')!
  t.not(code, firstCode, 'a fresh code')
  t.match(state.codes.get(code), { clientId: 'Iv1.simacmeci', userId: 1, redirectUri: CALLBACK, codeChallenge: challenge })

  const exchange = async (params: Record<string, string>) => {
    const res = await b.app.inject({
      method: 'POST',
      url: '/login/oauth/access_token',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      payload: JSON.stringify({ client_id: 'Iv1.simacmeci', client_secret: 'sim-client-secret', redirect_uri: CALLBACK, ...params }),
    })
    return res.json() as Record<string, string>
  }
  const token = await exchange({ code, code_verifier: verifier })
  t.match(token, { access_token: /^ghu_/, refresh_token: /^ghr_/ })
  t.match(state.tokens.get(token['access_token']!), { kind: 'user', userId: 1 })
  const third = query((await b.get(authorizeUrl(pkce))).location).get('code')!
  t.match(await exchange({ code: third, code_verifier: 'wrong-verifier-wrong-verifier-wrong-verifier' }), { error: 'bad_verification_code' }, 'the challenge still binds the code')

  const plain = await b.get(authorizeUrl({ client_id: 'Iv1.simacmeci' }))
  t.match(plain.location, /^http:\/\/localhost:3000\/auth\/callback\?code=[0-9a-f]{20}$/, 'no state, no state sent back')
  t.equal(state.codes.get(query(plain.location).get('code')!)!.codeChallenge, undefined)
})

t.test('an earlier authorization skips no check, and is only that user’s', async (t) => {
  const { b, state } = await browser(t)
  await b.signIn('mona')
  await b.get(authorizeUrl(good))
  await b.post('/login/oauth/authorize', { ...good, decision: 'authorize' })
  const codes = state.codes.size
  const refused: [Record<string, string>, number][] = [
    [{ ...good, client_id: 'legacy-oauth-client' }, 404],
    [{ ...good, redirect_uri: 'http://evil.example/auth/callback' }, 400],
    [{ ...good, code_challenge_method: 'plain' }, 400],
    [{ ...good, code_challenge: 'short' }, 400],
  ]
  for (const [params, status] of refused) {
    const page = await b.get(authorizeUrl(params))
    t.equal(page.status, status, JSON.stringify(params))
    t.equal(page.location, undefined)
  }
  t.equal(state.codes.size, codes, 'no code for a refused request')

  await b.signIn('octo')
  const octo = await b.get(authorizeUrl(good))
  t.equal(octo.status, 200, 'another user is asked')
  t.match(octo.body, 'Signed in as <strong>octo</strong>')
  await b.post('/login/oauth/authorize', { ...good, decision: 'cancel' })
  t.equal((await b.get(authorizeUrl(good))).status, 200, 'Cancel grants nothing: asked again')
  t.notOk(state.hasAuthorized(3, 'Iv1.simacmeci'))

  await b.post('/logout')
  const out = await b.get(authorizeUrl(good))
  t.equal(out.status, 200, 'signed out: the page, with the sign-in picker')
  t.match(out.body, 'Sign in to continue to <strong>Acme CI</strong>')
  await b.signIn('mona')
  t.equal((await b.get(authorizeUrl(good))).status, 302, 'mona again: straight back')
})
