import t, { type Test } from 'tap'
import { sharedKeyPair } from '../../helpers/keys.js'
import { buildSimulator } from '../../../src/simulator/server.js'
import { demoWorld } from '../../helpers/simulator.js'
import { Browser } from './browser.js'

async function browser(t: Test): Promise<Browser> {
  const sim = await buildSimulator({ world: demoWorld(), logLevel: 'silent', madeKeyPair: sharedKeyPair() })
  t.teardown(() => sim.app.close())
  return new Browser(sim.app)
}

t.test('the front page offers the world users, and signing in remembers the choice', async (t) => {
  const b = await browser(t)
  const home = await b.get('/')
  t.equal(home.status, 200)
  t.match(home.headers['content-type'], /^text\/html/)
  t.match(home.body, 'Nobody is signed in')
  for (const login of ['mona', 'hubot', 'octo']) t.match(home.body, `value="${login}"`)
  t.ok(b.cookies.has('gh_sim_csrf'), 'the page sets its CSRF cookie')
  const signIn = await b.post('/login', { login: 'MONA', return_to: '/' })
  t.equal(signIn.status, 303)
  t.equal(signIn.location, '/')
  const again = await b.get('/')
  t.match(again.body, 'You are signed in as <strong>mona</strong>')
  t.match(again.body, 'Signed in as <strong>mona</strong>')
  t.equal(b.cookies.get('gh_sim_csrf'), b.csrf, 'the CSRF token stays the same between pages')
})

t.test('the sign-in page returns to a local page only', async (t) => {
  const b = await browser(t)
  const page = await b.get('/login?return_to=%2Fapps%2Facme-ci')
  t.equal(page.status, 200)
  t.match(page.body, 'name="return_to" value="/apps/acme-ci"')
  t.notMatch(page.body, 'Sign out')
  t.equal((await b.post('/login', { login: 'octo', return_to: '/apps/acme-ci' })).location, '/apps/acme-ci')
  for (const evil of ['//evil.example', 'https://evil.example/', '/\\evil.example', 'relative']) {
    t.equal((await b.post('/login', { login: 'octo', return_to: evil })).location, '/', evil)
  }
  t.equal((await b.post('/login', { login: 'octo' })).location, '/')
  t.match((await b.get('/login')).body, 'You are signed in as <strong>octo</strong>')
})

t.test('sign-in and sign-out refuse forms without the CSRF token, and unknown users', async (t) => {
  const b = await browser(t)
  await b.get('/login')
  const missing = await b.post('/login', { login: 'mona', _csrf: undefined })
  t.equal(missing.status, 403)
  t.match(missing.body, 'Form expired')
  t.equal((await b.post('/login', { login: 'mona', _csrf: 'x' })).status, 403, 'a token of another length')
  t.equal((await b.post('/login', { login: 'mona', _csrf: 'f'.repeat(b.csrf!.length) })).status, 403, 'a wrong token')
  const unknown = await b.post('/login', { login: 'nobody' })
  t.equal(unknown.status, 422)
  t.match(unknown.body, 'no user named &quot;nobody&quot;')
  t.equal((await b.post('/login', {})).status, 422, 'no login at all')
  const fresh = new Browser(b.app)
  t.equal((await fresh.post('/login', { login: 'mona', _csrf: 'anything' })).status, 403, 'no CSRF cookie at all')
  await b.signIn('mona')
  t.equal((await b.post('/logout', { _csrf: 'nope' })).status, 403)
  t.match((await b.get('/')).body, 'signed in as <strong>mona</strong>')
})

t.test('signing out forgets the user; a cookie naming no world user signs in nobody', async (t) => {
  const b = await browser(t)
  await b.signIn('hubot')
  const page = await b.get('/login')
  t.match(page.body, 'Sign out')
  const out = await b.post('/logout')
  t.equal(out.status, 303)
  t.equal(out.location, '/')
  t.match((await b.get('/')).body, 'Nobody is signed in')
  b.cookies.set('gh_sim_user', '999')
  t.match((await b.get('/')).body, 'Nobody is signed in')
  b.cookies.set('gh_sim_user', 'mona')
  t.match((await b.get('/')).body, 'Nobody is signed in')
})
