import type { Test } from 'tap'
import type { World } from '../../src/simulator/world.js'
import { serviceWithGitHub, type Service } from './service.js'
import { signIn } from './sign-in.js'
import { demoWorld } from './simulator.js'
import { formAction, press, settled, view } from './wizard.js'

// For the tests of coverage on /migrate (test/migration/coverage*.test.ts): mona's world with
// the App installed, her part of the page, "Check again", and what the database holds.

export function section(body: string, owner: string): string {
  const start = body.indexOf(`id="owner-${owner}"`)
  if (start < 0) throw new Error(`no batch for ${owner}`)
  return body.slice(start, body.indexOf('</section>', start))
}

/** The demo world with the App installed on all three of mona's repositories. */
export function installedOnMona(selection: 'all' | 'selected' = 'selected'): World {
  const world = demoWorld()
  world.installations = [{ id: 500, account: 'mona', repository_selection: selection, ...(selection === 'selected' ? { repositories: [1000, 1001, 1002] } : {}) }]
  return world
}

/** The service with the App installed on mona's three repositories, and mona signed in. */
export async function monaInstalled(t: Test): Promise<{ service: Service; app: Service['app']; sim: Service['sim']; cookie: string }> {
  const service = await serviceWithGitHub(t, installedOnMona())
  const cookie = await signIn(service.app, service.sim, 1)
  return { service, app: service.app, sim: service.sim, cookie }
}

export async function monaSection(service: Service, cookie: string): Promise<string> {
  return section((await view(service.app, cookie)).body, 'mona')
}

/** "Check again" on mona's batch; returns once the check it asked for has run. */
export async function checkAgain(service: Service, cookie: string): Promise<void> {
  const res = await press(service.app, cookie, formAction(await monaSection(service, cookie), 'Check again'))
  if (res.statusCode !== 303) throw new Error(`Check again answered ${res.statusCode}`)
  await settled(service)
}

export async function coverageOf(service: Service, owner = 'mona', userId = 1) {
  return service.tdb.db
    .selectFrom('app.batch_repo as r')
    .innerJoin('app.batch as b', 'b.id', 'r.batch_id')
    .select(['r.repo_id', 'r.coverage', 'r.moved_to'])
    .where('b.owner_login', '=', owner)
    .where('b.user_id', '=', userId)
    .orderBy('r.repo_id')
    .execute()
}

export async function checks(service: Service) {
  return service.tdb.db.selectFrom('app.audit_event').selectAll().where('action', '=', 'coverage_checked').orderBy('id').execute()
}

/** Deliveries from now on go nowhere: GitHub changes things the service does not hear of. */
export function deafen(service: Service): void {
  service.sim.state.app.webhook_url = 'http://127.0.0.1:9/github/webhooks'
}
