import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { launchChromium } from '../../helpers/chromium.js'
import { demoWorld, startSimulator } from '../../helpers/simulator.js'
import { receiver } from '../webhook-receiver.js'

// A whole install in a real browser: GitHub's install link with a batch preselected, sign-in
// on the simulated GitHub, Install, and back to the app's setup URL; the webhook arrives.
t.test('install round trip in Chromium', async (t) => {
  const setupVisits: string[] = []
  const setup = createServer((req, res) => {
    setupVisits.push(req.url!)
    res.end('back at the service')
  }).listen(0, '127.0.0.1')
  await once(setup, 'listening')
  t.teardown(() => setup.close())
  const hooks = await receiver(t)
  const world = demoWorld()
  world.app.setup_url = `http://127.0.0.1:${(setup.address() as AddressInfo).port}/github/setup`
  world.app.webhook_url = hooks.url
  const sim = await startSimulator(t, world)

  const browser = await launchChromium(t)
  const page = await browser.newPage()
  await page.goto(`${sim.url}/apps/${world.app.slug}/installations/new/permissions?suggested_target_id=100&repository_ids[]=1100&repository_ids[]=1102&state=batch-7`)
  t.match(page.url(), '/login?return_to=', 'the signed-out visitor is asked to sign in first')
  await page.click('text=Sign in as mona')
  t.match(await page.textContent('h1'), 'Install')
  const preselected = await page.$$eval('input[type=checkbox]:checked', (boxes) => boxes.map((b) => b.getAttribute("value") ?? ""))
  t.same(preselected.sort(), ['1100', '1102'], 'the batch is preselected')
  await Promise.all([page.waitForURL(/\/github\/setup/), page.click('button:has-text("Install")')])

  const installation = sim.state.installationOn(100)!
  t.same([...installation.repositoryIds].sort(), [1100, 1102])
  t.same(setupVisits.filter((u) => u.startsWith('/github/setup')), [`/github/setup?installation_id=${installation.id}&setup_action=install&state=batch-7`])
  t.equal(await page.textContent('body'), 'back at the service')
  await sim.sim.delivery.settle()
  t.match(JSON.parse(hooks.received[0]!.body), { action: 'created', installation: { id: installation.id, account: { login: 'acme' } } })
})
