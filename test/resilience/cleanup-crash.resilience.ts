import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { Db } from '../../src/db/connect.js'
import { planTasks } from '../../src/migration/cleanup-task.js'
import { projectRoot } from '../../src/project-root.js'
import type { World } from '../../src/simulator/world.js'
import { testDatabase } from '../helpers/database.js'
import { table } from '../helpers/resilience.js'
import { random } from '../helpers/seeded-random.js'
import { serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { installedOnMonaAndAcme, startSimulator, type StartedSimulator } from '../helpers/simulator.js'
import { view } from '../helpers/wizard.js'

// The cleanup's exactly-once promise under crashes (issue 12), over RUNS runs: a worker process
// (test/helpers/cleanup-worker.ts, compiled) is killed (SIGKILL) at a random moment of its run
// (before a DELETE, after it, before the outcome's commit), a new one finishes the work, and
// then, against the simulated GitHub's state and the audit log: every hook has exactly one
// outcome, nothing foreign or uncovered is deleted, every DELETE GitHub saw was preceded by an
// intent on the record, no event is recorded twice, and a hook whose DELETE was lost ends
// removed, not already absent. Every run starts from one copy of the same database (mona's
// agreement, planned once through the wizard) and a fresh simulator.

const RUNS = 24
// 24 runs take about a minute on a quiet machine and half as long again on a busy one: more
// than tap's 120 s per file would leave to spare. The suite runs its parts one at a time.
t.setTimeout(240_000)
const WORKER = path.join(projectRoot(), 'dist', 'test', 'helpers', 'cleanup-worker.js')
const HOOK_URL = 'https://ci.example.com/hooks/github'
/** What each hook must end as, whatever dies when. */
const EXPECTED: Record<number, string> = { 5000: 'not_covered', 5001: 'skipped_foreign', 5003: 'already_absent', 5100: 'removed', 5101: 'removed', 5102: 'removed', 6000: 'removed' }

const world = (): World => installedOnMonaAndAcme([1000, 1001, 1002])

interface Ended {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function startWorker(sim: StartedSimulator, databaseUrl: string): { kill: () => void; ready: Promise<void>; ended: Promise<Ended> } {
  const config = { databaseUrl, webUrl: sim.url, apiUrl: sim.apiUrl, appId: sim.state.app.id, privateKey: sim.privateKey, hookUrl: HOOK_URL, owners: [1, 100] }
  // The compiled worker (test:resilience builds before it runs), by plain node with nothing of
  // this test's environment: a process starts in a fraction of the time a TypeScript loader
  // takes, and what it runs is covered by the in-process tests of the cleanup.
  const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], { cwd: projectRoot(), env: {} })
  let stdout = ''
  let stderr = ''
  let markReady!: () => void
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    if (stdout.includes('ready')) markReady()
  })
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const ended = new Promise<Ended>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
  return { kill: () => child.kill('SIGKILL'), ready, ended }
}

/** A fresh GitHub as the template's database expects it: one foreign hook, one already gone, one repository taken out of the installation after the agreement. */
async function gitHubForRun(test: Test, latencyMs: number): Promise<StartedSimulator> {
  const sim = await startSimulator(test, world())
  delete sim.state.app.webhook_url
  sim.state.repos.get(1001)!.hooks.get(5001)!.url = 'https://elsewhere.example.org/hook'
  sim.state.repos.get(1002)!.hooks.delete(5003)
  // The run's own listing must find this out.
  sim.state.installations.get(500)!.repositoryIds.delete(1000)
  const res = await sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { latencyMs } })
  if (res.statusCode !== 200) throw new Error(`PUT /_sim/faults answered ${res.statusCode}`)
  return sim
}

/** What broke of the promise, as sentences; none when every invariant holds. */
async function violationsOf(db: Db, sim: StartedSimulator): Promise<string[]> {
  const { state } = sim
  const found: string[] = []
  const check = (ok: boolean, what: string) => void (ok || found.push(what))
  const tasks = await db.db.selectFrom('app.cleanup_task').select(['hook_id', 'state', 'attempts']).orderBy('hook_id').execute()
  check(tasks.length === Object.keys(EXPECTED).length, `${tasks.length} tasks, not ${Object.keys(EXPECTED).length}`)
  const events = await db.db.selectFrom('app.audit_event').select(['id', 'at', 'action', 'hook_id', 'outcome']).where('hook_id', 'is not', null).orderBy('id').execute()
  const deletes = state.apiLog.filter((e) => e.method === 'DELETE' && /\/hooks\/\d+$/.test(e.path))
  for (const task of tasks) {
    const hook = `hook ${task.hook_id}`
    check(task.state === EXPECTED[task.hook_id], `${hook} ended ${task.state}, not ${EXPECTED[task.hook_id]}`)
    const mine = events.filter((e) => e.hook_id === task.hook_id)
    const outcomes = mine.filter((e) => e.action === 'hook_cleanup')
    const intents = mine.filter((e) => e.action === 'hook_delete_attempted')
    check(outcomes.length === 1, `${hook}: ${outcomes.length} outcomes on the record`)
    check(outcomes[0]?.outcome === task.state, `${hook}: the record says ${outcomes[0]?.outcome}, the task ${task.state}`)
    check(intents.length === task.attempts, `${hook}: ${intents.length} intents for ${task.attempts} attempts`)
    const sent = deletes.filter((e) => e.path.endsWith(`/hooks/${task.hook_id}`))
    if (sent.length > 0) {
      check(intents.length > 0 && intents[0]!.at.getTime() <= sent[0]!.at.getTime(), `${hook}: GitHub saw a DELETE before its intent was on the record`)
      check(intents.length > 0 && outcomes.length > 0 && intents.at(-1)!.id < outcomes[0]!.id, `${hook}: an outcome before the last intent`)
    }
    check(sent.filter((e) => e.status === 204).length <= 1, `${hook}: deleted more than once`)
    const present = state.hookById(task.hook_id) !== undefined
    check(present === !['removed', 'already_absent'].includes(task.state), `${hook}: GitHub ${present ? 'still has' : 'no longer has'} it, but it ended ${task.state}`)
  }
  check(state.hookById(5002) !== undefined, 'a hook the legacy records do not name (5002) was deleted')
  return found
}

interface Totals {
  killedMidway: number
  midDelete: number
  requests: number
  deletes: number
  violations: number
  outcomes: string[]
  reruns: number
}

/** Items counted: "a 2, b 1". */
function tally(list: string[]): string {
  const by = new Map<string, number>()
  for (const item of list) by.set(item, (by.get(item) ?? 0) + 1)
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(', ')
}

/** One run on a copy of `template`: a worker killed, another finishing; its row of the table. */
async function crashRun(t: Test, run: number, seed: number, template: string, totals: Totals): Promise<(string | number)[]> {
  const next = random(seed)
  const tdb = await testDatabase(t, { template })
  // GitHub answers 10 to 20 ms late, so that a kill can fall inside a request.
  const sim = await gitHubForRun(t, 10 + Math.floor(next() * 10))
  // The kill falls a few ms after GitHub answered the worker's kth request (0: after its start):
  // between requests, inside one, or between an answer and the commit it leads to. A worker
  // makes about 16 requests.
  const killAt = Math.floor(next() * 18)
  const jitter = Math.floor(next() * 30)
  const first = startWorker(sim, tdb.url)
  let timer: NodeJS.Timeout | undefined
  const killSoon = () => void (timer = setTimeout(first.kill, jitter))
  const record = sim.state.recordApi.bind(sim.state)
  let answered = 0
  sim.state.recordApi = (entry) => {
    record(entry)
    if (++answered === killAt) killSoon()
  }
  await Promise.race([first.ready, first.ended])
  if (killAt === 0) killSoon()
  const ended = await first.ended
  clearTimeout(timer)
  sim.state.recordApi = record
  const killed = ended.signal === 'SIGKILL'
  const violations: string[] = []
  if (killed) totals.killedMidway++
  else if (ended.code !== 0) violations.push(`the first worker failed: ${ended.stderr}`)
  const atKill = (await tdb.db.selectFrom('app.cleanup_task').select('state').execute()).map((r) => r.state)
  if (atKill.includes('attempting')) totals.midDelete++
  const second = await startWorker(sim, tdb.url).ended
  if (second.code !== 0 || !second.stdout.includes('done')) violations.push(`the second worker did not finish: ${second.stderr}`)
  violations.push(...(await violationsOf(tdb, sim)))
  // Once more over finished tasks (every fourth run): nothing asked, nothing recorded.
  if (run % 4 === 0) {
    totals.reruns++
    const requests = sim.state.apiLog.length
    const events = (await tdb.db.selectFrom('app.audit_event').select('id').execute()).length
    if ((await startWorker(sim, tdb.url).ended).code !== 0) violations.push('a worker over finished tasks failed')
    if (sim.state.apiLog.length !== requests) violations.push(`a run over finished tasks asked GitHub ${sim.state.apiLog.length - requests} times`)
    if ((await tdb.db.selectFrom('app.audit_event').select('id').execute()).length !== events) violations.push('a run over finished tasks recorded events')
  }
  const outcomes = (await tdb.db.selectFrom('app.cleanup_task').select('state').execute()).map((r) => r.state)
  const deletes = sim.state.apiLog.filter((e) => e.method === 'DELETE').length
  totals.outcomes.push(...outcomes)
  totals.requests += sim.state.apiLog.length
  totals.deletes += deletes
  totals.violations += violations.length
  for (const v of violations) t.comment(`VIOLATION seed ${seed}: ${v}`)
  t.equal(violations.length, 0, `seed ${seed}: every invariant holds`)
  const moment = `${killAt === 0 ? 'start' : `answer ${killAt}`} +${jitter} ms`
  return [run, seed, moment, killed ? 'killed' : 'had ended', tally(atKill), sim.state.apiLog.length, deletes, tally(outcomes), violations.length]
}

t.test(`the cleanup crash invariants, over ${RUNS} runs of a worker killed at a random moment`, async (t) => {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run "npm run build" first (npm run test:resilience does)`)
  const started = Date.now()
  // mona's hooks, with one of each fate: not covered, foreign, already gone, and four to remove;
  // her agreement planned through the wizard once, into a database every run copies.
  const service = await serviceWithGitHub(t, world())
  const cookie = await signIn(service.app, service.sim, 1)
  await view(service.app, cookie)
  const ids = (await service.tdb.db.selectFrom('app.batch').select('id').where('user_id', '=', 1).execute()).map((b) => b.id)
  await service.tdb.db.transaction().execute((trx) => planTasks(trx, ids, { kind: 'user', githubId: 1, login: 'mona' }, { agreedOnly: false }))
  await service.app.close()
  await service.sim.close()
  await service.tdb.close()

  // Seeded from the clock, the seeds printed: a failing run can be replayed.
  const seed0 = (Date.now() % 100_000) * 100
  t.comment(`seeds ${seed0} to ${seed0 + RUNS - 1}`)
  const totals: Totals = { killedMidway: 0, midDelete: 0, requests: 0, deletes: 0, violations: 0, outcomes: [], reruns: 0 }
  const rows: (string | number)[][] = []
  // Two runs at a time: a run mostly waits for a worker process to start and for GitHub.
  await t.test('the runs, two at a time', { jobs: 2 }, async (t) => {
    for (let run = 0; run < RUNS; run++) {
      const seed = seed0 + run
      void t.test(`run ${run} (seed ${seed})`, { buffered: true }, async (t) => void (rows[run] = await crashRun(t, run, seed, service.tdb.name, totals)))
    }
  })
  const header = ['run', 'seed', 'kill after', 'first worker', 'tasks at the kill', 'GitHub requests', 'DELETEs', 'outcomes', 'violations']
  const all = ['all', `${RUNS} runs`, '', `${totals.killedMidway} killed`, `${totals.midDelete} mid-delete`, totals.requests, totals.deletes, tally(totals.outcomes), totals.violations]
  process.stdout.write(
    `\n# cleanup crash (${((Date.now() - started) / 1000).toFixed(1)} s)\n${table([header, ...rows, all])}\n\n` +
      `kills: ${totals.killedMidway} of ${RUNS} workers killed before they finished, ${totals.midDelete} between an intent and its outcome; ` +
      `${totals.reruns} runs over finished tasks\ninvariant violations: ${totals.violations}\n`,
  )
  t.equal(totals.violations, 0, 'no invariant violations')
  t.ok(totals.killedMidway >= RUNS / 2, `the worker was killed before it finished in ${totals.killedMidway} of ${RUNS} runs`)
  t.ok(totals.midDelete > 0, 'some kills fell between an intent and its outcome')
})
