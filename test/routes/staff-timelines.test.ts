import t, { type Test } from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { installedOnMonaAndAcme } from '../helpers/simulator.js'
import { sessionCookieOf, signIn, startSignIn } from '../helpers/sign-in.js'
import { OLGA, SAM, staffService, type StaffService } from '../helpers/staff.js'
import { csrfOf, formAction, settled, view } from '../helpers/wizard.js'

// Support staff answer "what happened to my repo?" from whatever the customer pasted.

/** mona migrates her account and acme, and agrees to remove every old hook: all removed. */
async function migrated(t: Test): Promise<StaffService> {
  const service = await staffService(t, { world: installedOnMonaAndAcme([1000, 1001, 1002]) })
  const cookie = await signIn(service.app, service.sim, 1)
  const page = await view(service.app, cookie)
  await service.app.inject({ method: 'POST', url: formAction(page.body, 'Remove 3 old webhooks'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body), auto: 'on' } })
  await settled(service)
  return service
}

/** The text of a page's list items, tags stripped. */
function items(html: string, section: string): string[] {
  const part = html.split(`<h2>${section}</h2>`)[1]?.split('</section>')[0] ?? ''
  return [...part.matchAll(/<li[^>]*>([\s\S]*?)<\/li>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').replaceAll('&#39;', "'").trim())
}

t.test('a pasted repository address lands on its timeline, which reads as a story', async (t) => {
  const service = await migrated(t)
  const sam = await service.as(SAM)
  const found = await sam('/staff/search?q=' + encodeURIComponent('https://github.com/acme/web/settings/hooks'))
  t.equal(found.statusCode, 303)
  t.equal(found.headers.location, '/staff/timeline/repo/1101')
  const page = await sam('/staff/timeline/repo/1101')
  t.equal(page.statusCode, 200)
  t.match(page.body, /<h1>acme\/web <span class="id">\(repository\)<\/span><\/h1>/)
  t.same(items(page.body, 'Where things stand'), ['acme/web: covered by the App', '1 old webhook of it removed'])
  const story = items(page.body, 'What happened').map((line) => line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d /, ''))
  t.same(story.slice(-3), ['old webhook 5101 on acme/web: to be removed', "old webhook 5101 on acme/web: deleting it with the App's permission (attempt 1)", 'old webhook 5101 on acme/web: removed'])
  // From the repository to its users' stories: mona's plan holds it (hubot, who enabled it, never signed in).
  t.equal(items(page.body, 'Its users').length, 1)
  t.match(page.body, /<li><a href="\/staff\/timeline\/user\/1">mona<\/a>: has it in their plan<\/li>/)
  t.match((await sam('/staff/timeline/repo/1000')).body, /<li><a href="\/staff\/timeline\/user\/1">mona<\/a>: enabled its old webhook, and has it in their plan<\/li>/)
  t.notMatch((await sam('/staff/timeline/user/1')).body, 'Its users', "a user's timeline has no such list")
})

t.test("a login lands on the user's story; one that is both a user and an account offers both", async (t) => {
  const service = await migrated(t)
  const sam = await service.as(SAM)
  const both = await sam('/staff/search?q=mona')
  t.equal(both.statusCode, 200)
  t.match(both.body, /href="\/staff\/timeline\/user\/1">the user mona/)
  t.match(both.body, /href="\/staff\/timeline\/owner\/1">the account mona/)
  const mona = await sam('/staff/timeline/user/1')
  const summary = items(mona.body, 'Where things stand')
  t.match(summary[0], /^mona signed in 1 time, last on \d{4}-/)
  t.match(summary, [/./, /the App is installed on acme \(installation 501\), covering 3 of 3 repositories/, /the App is installed on mona \(installation 500\), covering 3 of 3 repositories/, /has not installed the App on widgets yet/, '6 old webhooks that mona enabled removed'])
  const acme = await sam('/staff/search?q=@acme')
  t.equal(acme.headers.location, '/staff/timeline/owner/100')
  const owner = items((await sam('/staff/timeline/owner/100')).body, 'Where things stand')
  t.match(owner, ['the App is installed on acme (installation 501, all repositories)', /^mona: the App is installed on acme/, '4 old webhooks on acme removed'])
})

t.test('a hook id lands on its repository; an unknown text says what to try; a bad address is refused', async (t) => {
  const service = await migrated(t)
  const olga = await service.as(OLGA)
  t.equal((await olga('/staff/search?q=5101')).headers.location, '/staff/timeline/repo/1101')
  t.equal((await olga('/staff/search?q=6000')).headers.location, '/staff/timeline/owner/100', "acme's organization hook")
  const none = await olga('/staff/search?q=nobody-at-all')
  t.equal(none.statusCode, 200)
  t.match(none.body, /Nothing recorded matches “nobody-at-all”/)
  t.equal((await olga('/staff/search?q=')).headers.location, '/staff')
  t.equal((await olga('/staff/search')).headers.location, '/staff')
  t.match((await olga('/staff/timeline/owner/424242')).body, /Nothing is recorded about account 424242\./)
  t.match((await olga('/staff/timeline/user/424242')).body, /Nothing is recorded about user 424242\./)
  const missing = await olga('/staff/timeline/repo/424242')
  t.equal(missing.statusCode, 404)
  t.match(missing.body, /Nothing is recorded about repository 424242\./)
  t.equal((await olga('/staff/timeline/planet/1')).statusCode, 400)
})

t.test('staff land on the console after signing in, with the search box; users on the wizard', async (t) => {
  const service = await staffService(t)
  const landing = async (userId: number) => {
    const { cookie, state, code } = await startSignIn(service.app, service.sim, userId)
    const back = await service.app.inject({ url: `/auth/callback?code=${code}&state=${state}`, cookies: { [SESSION_COOKIE]: cookie } })
    return { location: back.headers.location, cookie: sessionCookieOf(back)! }
  }
  const sam = await landing(SAM)
  t.equal(sam.location, '/staff')
  t.equal((await landing(1)).location, '/migrate')
  const home = await service.app.inject({ url: '/staff', cookies: { [SESSION_COOKIE]: sam.cookie } })
  t.equal(home.statusCode, 200)
  t.match(home.body, /<form class="filter" method="get" action="\/staff\/search"/)
})
