import type { Browser, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import type { Demo } from '../src/demo.js'
import { launchChromium } from './helpers/chromium.js'
import { arrive, consoleOf, signInWithGitHub, startDemoOnFreePorts, watch } from './helpers/demo.js'
import { DESKTOP, screenshots } from './helpers/screenshots.js'

// Issue 11 in a real browser: a person running `npm run demo` signs in as the demo's support
// user and finds what happened to acme/web in two clicks. First something happens to it: mona,
// acme's owner, installs the App on acme and has its old webhooks removed. Then sam signs in,
// lands on the console, types acme/web and presses Find. Screenshots of each step, at 390 and
// 1200 px, in .data/screenshots/staff-console/.

/** The text of each item of a timeline's section, as a person reads it. */
async function items(page: Page, heading: string): Promise<string[]> {
  const texts = await page.locator('section', { has: page.getByRole('heading', { name: heading, exact: true }) }).locator('li').allInnerTexts()
  return texts.map((text) => text.replace(/\s+/g, ' ').trim())
}

async function newPage(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext({ viewport: DESKTOP })).newPage()
  page.setDefaultTimeout(10_000)
  return page
}

/** mona, an owner of acme: the App on acme (Install here, Install on GitHub), then its old webhooks removed. */
async function monaMigratesAcme(t: Test, browser: Browser, demo: Demo): Promise<Page> {
  const page = await newPage(browser)
  watch(page)
  await signInWithGitHub(page, demo, 'mona')
  await arrive(page, (url) => url.pathname === '/migrate', '/migrate')
  await page.getByRole('heading', { name: 'Your migration', exact: true }).waitFor()
  await page.getByRole('button', { name: 'Install or ask the owners of acme on GitHub', exact: true }).click()
  await arrive(page, (url) => url.origin === demo.githubUrl && url.pathname.endsWith('/installations/new/permissions'), "GitHub's install page")
  await page.getByRole('button', { name: 'Install', exact: true }).click()
  await arrive(page, (url) => url.origin === demo.url && url.pathname === '/migrate', '/migrate')
  const acme = page.locator('section#owner-acme')
  await acme.locator('.status.ok').waitFor()
  await acme.getByRole('button', { name: /^Remove \d+ old webhooks?$/ }).click()
  // The page follows the removal by itself and reloads when every hook has its outcome.
  await acme.locator('.status.ok', { hasText: 'Done' }).waitFor({ timeout: 60_000 })
  t.match(await acme.innerText(), /Old webhooks: \d+ removed, 0 remaining/, "acme's old webhooks are removed")
  return page
}

t.test('the staff console in Chromium: sam finds what happened to acme/web in two clicks; mona gets no console', async (t) => {
  const { shoot, dir } = await screenshots(t, 'staff-console')
  const demo = await startDemoOnFreePorts(t)
  const browser = await launchChromium(t)

  const mona = await monaMigratesAcme(t, browser, demo)
  // A customer, not staff: the console is an address with no page.
  const refused = await mona.goto(`${demo.url}/staff`)
  t.equal(refused?.status(), 404, 'mona gets 404 at /staff')
  const refusal = await mona.locator('body').innerText()
  t.match(refusal, 'There is no page at this address.')
  t.match(refusal, 'Signed in as mona', 'still signed in, as on any page')
  t.notMatch(refusal, 'Staff console', 'and no link to it')
  await shoot(mona, 'customer-at-staff')
  await mona.goto(`${demo.url}/no-such-page`)
  t.equal(await mona.locator('body').innerText(), refusal, 'word for word what an address with no page shows')

  // sam, support, in a browser of his own: signing in lands him on the console.
  const page = await newPage(browser)
  const seen = watch(page)
  await signInWithGitHub(page, demo, 'sam')
  await arrive(page, (url) => url.origin === demo.url && url.pathname === '/staff', 'the staff console')
  t.match(await page.locator('h1').innerText(), 'Staff console')
  t.match(await page.locator('header.site').innerText(), 'Signed in as sam')
  await shoot(page, 'staff-console')

  // From here every click counts; typing is not a click.
  let clicks = 0
  const search = page.getByRole('searchbox', { name: 'What happened to…' })
  await search.fill('acme/web')
  await page.getByRole('button', { name: 'Find', exact: true }).click()
  clicks++
  await arrive(page, (url) => url.pathname === '/staff/timeline/repo/1101', "acme/web's timeline")
  t.equal(clicks, 1, 'one click after sign-in: Find')
  t.ok(clicks <= 2, 'at most two clicks')

  // What a support person reads: where things stand, then the story in order.
  t.equal((await page.locator('h1').innerText()).trim(), 'acme/web (repository)')
  t.same(await items(page, 'Where things stand'), ['acme/web: covered by the App', '1 old webhook of it removed'], 'the summary, in sentences')
  const story = (await items(page, 'What happened')).map((line) => line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d /, ''))
  t.same(story.slice(-3), ['old webhook 5101 on acme/web: to be removed', "old webhook 5101 on acme/web: deleting it with the App's permission (attempt 1)", 'old webhook 5101 on acme/web: removed'], 'the events, each in words')
  await shoot(page, 'acme-web-timeline')

  // What customers paste: the repository's address on github.com, and the simulated GitHub's
  // (its html_url) as a person copies it in `npm run demo`, where it listens on localhost.
  const githubPort = new URL(demo.githubUrl).port
  for (const pasted of ['https://github.com/acme/web', `${demo.githubUrl}/acme/web`, `http://localhost:${githubPort}/acme/web/settings/hooks`]) {
    // From the console each time, so that arriving at the timeline is a new page.
    await page.goto(`${demo.url}/staff`)
    await search.fill(pasted)
    await page.getByRole('button', { name: 'Find', exact: true }).click()
    await arrive(page, (url) => url.pathname === '/staff/timeline/repo/1101', `acme/web's timeline from ${pasted}`)
    t.pass(`${pasted} lands on acme/web's timeline`)
  }

  for (const s of seen) if (s.status >= 400) t.fail(`sam was shown ${s.status} at ${s.url}`)
  t.same(consoleOf(page), [], "nothing in sam's console (no CSP refusal, no failed load)")
  t.comment(`screenshots in ${dir}`)
})
