import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import t from 'tap'
import { DEMO_RECEIVER_SECRET, legacyConfigOf, localUrl, startDemo } from '../src/demo.js'
import { testDatabase } from './helpers/database.js'
import { throwawayDemoDatabase } from './helpers/demo.js'
import { demoWorld } from './helpers/simulator.js'

async function page(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers })
  return { status: res.status, body: await res.text() }
}

/** What the vendor's receiver hears about a legacy hook: the demo's legacy records, through the service. */
const hookState = (base: string, hookId: number) => page(`${base}/legacy/hooks/${hookId}`, { authorization: `Bearer ${DEMO_RECEIVER_SECRET}` })

t.test('on a Postgres server: its own database, the demo legacy data for the receiver, the console closed to visitors', async (t) => {
  const { server, database } = await throwawayDemoDatabase(t, 'demo')
  const demo = await startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', serverUrl: server, dataDir: '', database, logLevel: 'silent' })
  for (const hook of [5000, 5100, 5200, 6000]) t.match(await hookState(demo.url, hook), { status: 200, body: /"state":"active"/ }, `hook ${hook}`)
  t.equal((await page(`${demo.url}/staff/inventory`)).status, 404, 'the staff console is for signed-in staff')
  t.equal((await page(`${demo.url}/healthz`)).status, 200)
  await demo.close()

  // A second start finds the data in place; importing the same world again changes nothing.
  const again = await startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', serverUrl: server, dataDir: '', database, logLevel: 'silent' })
  t.teardown(() => again.close())
  const c = new pg.Client({ connectionString: new URL(`/${database}`, server).toString() })
  await c.connect()
  const { rows } = await c.query('select count(*)::int as n, sum(hooks_inserted)::int as inserted from app.legacy_import')
  const hooks = await c.query('select count(*)::int as n from legacy.webhooks')
  await c.end()
  t.same(rows[0], { n: 2, inserted: 9 }, 'the second import inserted nothing')
  t.equal(hooks.rows[0].n, 9)
})

t.test('with no server: an embedded Postgres whose data outlives a restart', async (t) => {
  const dataDir = path.resolve('.data', `demo-test-${randomBytes(4).toString('hex')}`)
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const first = await startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' })
  t.equal((await page(`${first.url}/healthz`)).status, 200)
  await first.close()
  await t.rejects(fetch(`${first.url}/healthz`), 'stopped')
  const second = await startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' })
  t.match(await hookState(second.url, 5200), { status: 200 }, "widgets' hook, still recorded")
  await second.close()
})

t.test('a world whose legacy registrations are invalid stops the demo with the reason', async (t) => {
  const server = (await testDatabase(t, { migrate: false })).url
  const database = `demo_${randomBytes(4).toString('hex')}`
  const dir = path.resolve('.data', `world-${randomBytes(4).toString('hex')}`)
  const { mkdir, writeFile } = await import('node:fs/promises')
  await mkdir(dir, { recursive: true })
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const worldFile = path.join(dir, 'bad.json')
  const world = demoWorld()
  world.legacy_registrations = [{ github_user_id: 1, kind: 'repo', owner_id: 1, owner_login: 'mona', owner_type: 'User', hook_id: 5, hook_url: 'https://x.example/h' }]
  await writeFile(worldFile, JSON.stringify(world))
  await t.rejects(startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', serverUrl: server, dataDir: '', database, worldFile, logLevel: 'silent' }), /line 2: repo_id is missing for kind repo/)
  // On the embedded Postgres too, which is then stopped again.
  const dataDir = path.join(dir, 'postgres')
  await t.rejects(startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', dataDir, worldFile, logLevel: 'silent' }), /repo_id is missing/)
  const restarted = await startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' })
  await restarted.close()
})

t.test("the demo's URL is one a browser on this machine can open", async (t) => {
  t.equal(localUrl('127.0.0.1', 3000), 'http://127.0.0.1:3000')
  t.equal(localUrl('0.0.0.0', 3000), 'http://localhost:3000', 'any address: localhost')
  t.equal(localUrl('::', 3000), 'http://localhost:3000')
  t.equal(localUrl('::1', 3000), 'http://[::1]:3000', 'IPv6 in brackets')
})

t.test("the service's view of the world's legacy app: its hook URL, and its credentials when the world has them", async (t) => {
  const world = demoWorld()
  t.same(legacyConfigOf(world), { hookUrl: 'https://ci.example.com/hooks/github', oauthApp: { clientId: 'legacy-oauth-client', clientSecret: 'demo-legacy-client-secret' } })
  t.same(legacyConfigOf(world, DEMO_RECEIVER_SECRET).receiverSecret, DEMO_RECEIVER_SECRET)
  world.legacy_oauth_app = { client_id: 'legacy-oauth-client' }
  t.same(legacyConfigOf(world), { hookUrl: 'https://legacy-hook-url.invalid/' }, 'no hook URL: no hook is ever taken for the legacy app')
})
