import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { signIn } from '../helpers/sign-in.js'
import { installedOnMonaAndAcme } from '../helpers/simulator.js'
import { OLGA, staffService } from '../helpers/staff.js'
import { csrfOf, formAction, settled, view } from '../helpers/wizard.js'

// The console's front page: the migration at a glance, with what waits for someone.

t.test('counts, removals over time, the requests waiting for an owner and the hooks that need a person', async (t) => {
  const service = await staffService(t, { world: installedOnMonaAndAcme([1000, 1001, 1002]) })
  const { db } = service.tdb
  const cookie = await signIn(service.app, service.sim, 1)
  const page = await view(service.app, cookie)
  await service.app.inject({ method: 'POST', url: formAction(page.body, 'Remove 3 old webhooks'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body), auto: 'on' } })
  await settled(service)
  // mona asked widgets' owners, and widgets' hook needs a person.
  await db.updateTable('app.batch').set({ state: 'request_pending', approvers: ['octo'] }).where('owner_login', '=', 'widgets').execute()
  await db
    .insertInto('app.cleanup_task')
    .values([
      { hook_id: 5200, kind: 'repo', owner_id: 101, owner_login: 'widgets', repo_id: 1200, repo_name: 'core', enabled_by: 3, requested_by: null, state: 'needs_manual', reason: "octo's legacy token was revoked: delete hook 5200 by hand" },
      { hook_id: 7777, kind: 'org', owner_id: 101, owner_login: 'widgets', repo_id: null, repo_name: null, enabled_by: 3, requested_by: null, state: 'needs_manual', reason: 'only the legacy token can' },
    ])
    .execute()

  const res = await (await service.as(OLGA))('/staff')
  t.equal(res.statusCode, 200)
  const totals = Object.fromEntries([...res.body.matchAll(/<dt>([^<]+)<\/dt><dd>([^<]+)/g)].map((m) => [m[1], m[2]!.trim()]))
  t.same(totals, {
    'Users started': '1',
    'Users finished': '0',
    'Owners installed': '2',
    'Waiting for approval': '1',
    'Owners covered': '2',
    'Owners done': '2',
    'Old hooks removed': '7',
    'Being removed': '0',
    'Need attention': '2',
  })
  t.match(res.body, /<small>of 9<\/small>/)
  t.match(res.body, /<polyline points="[\d., ]+" class="line"\/>/)
  t.match(res.body, /aria-label="Old hooks removed in total, from \d+ on \d{4}-\d\d-\d\d to 7 on \d{4}-\d\d-\d\d"/)
  t.match(res.body, '<a href="/staff/timeline/owner/101">widgets</a>: asked by <a href="/staff/timeline/user/1">mona</a>, for octo to approve')
  t.match(res.body, '<a href="/staff/timeline/repo/1200">widgets/core</a>: octo&#39;s legacy token was revoked: delete hook 5200 by hand')
  t.match(res.body, '<a href="/staff/timeline/owner/101">widgets (organization hook 7777)</a>: only the legacy token can')
})

t.test('an empty migration says so', async (t) => {
  const service = await staffService(t, { seedLegacy: false })
  const res = await (await service.as(OLGA))('/staff')
  t.match(res.body, 'No request is waiting.')
  t.match(res.body, /<h2>Old hooks that need attention<\/h2>\s*<p class="empty">None\.<\/p>/)
  t.match(res.body, /from 0 on .* to 0 on /)
})
