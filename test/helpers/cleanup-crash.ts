import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Test } from 'tap'
import { planTasks } from '../../src/migration/cleanup-task.js'
import { projectRoot } from '../../src/project-root.js'
import type { World } from '../../src/simulator/world.js'
import { serviceWithGitHub, type Service } from './service.js'
import { signIn } from './sign-in.js'
import { installedOnMonaAndAcme } from './simulator.js'
import { view } from './wizard.js'

// The cleanup's exactly-once promise under crashes: a worker process is killed (SIGKILL) at a
// random moment of its run (before a DELETE, after it, before the outcome's commit), a new one
// finishes the work, and then, against the simulated GitHub's state and the audit log: every
// hook has exactly one outcome, nothing foreign or uncovered is deleted, every DELETE GitHub
// saw was preceded by an intent on the record, no event is recorded twice, and a hook whose
// DELETE was lost ends removed, not already absent.

const WORKER = path.join(projectRoot(), 'dist', 'test', 'helpers', 'cleanup-worker.js')
const HOOK_URL = 'https://ci.example.com/hooks/github'
/** What each hook must end as, whatever dies when. */
const EXPECTED = { 5000: 'not_covered', 5001: 'skipped_foreign', 5003: 'already_absent', 5100: 'removed', 5101: 'removed', 5102: 'removed', 6000: 'removed' }

/** A small seeded generator, so that a failing run can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const world = (): World => installedOnMonaAndAcme([1000, 1001, 1002])

function startWorker(service: Service): { child: ChildProcess; ready: Promise<void>; ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const { sim, tdb } = service
  const config = { databaseUrl: tdb.url, webUrl: sim.url, apiUrl: sim.apiUrl, appId: sim.state.app.id, privateKey: sim.privateKey, hookUrl: HOOK_URL, owners: [1, 100] }
  // The compiled worker (npm test builds before it runs), by plain node with nothing of this
  // test's environment: a process starts in a fraction of the time a TypeScript loader (or
  // coverage) takes, and what it runs is covered by the in-process tests.
  const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], { cwd: projectRoot(), env: {} })
  let stdout = ''
  let stderr = ''
  let markReady!: () => void
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString()
    if (stdout.includes('ready')) markReady()
  })
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  )
  return { child, ready, ended }
}

/** mona's hooks, with one of each fate: not covered, foreign, already gone, and four to remove. */
async function prepared(t: Test): Promise<Service> {
  const service = await serviceWithGitHub(t, world())
  const { state } = service.sim
  const cookie = await signIn(service.app, service.sim, 1)
  await view(service.app, cookie)
  state.repos.get(1001)!.hooks.get(5001)!.url = 'https://elsewhere.example.org/hook'
  state.repos.get(1002)!.hooks.delete(5003)
  const { db } = service.tdb
  const ids = (await db.selectFrom('app.batch').select('id').where('user_id', '=', 1).execute()).map((b) => b.id)
  await db.transaction().execute((trx) => planTasks(trx, ids, { kind: 'user', githubId: 1, login: 'mona' }, { agreedOnly: false }))
  // Taken out of the installation after the agreement: the run's own listing must find out.
  state.installations.get(500)!.repositoryIds.delete(1000)
  return service
}

async function invariants(t: Test, service: Service, seed: number): Promise<void> {
  const { db } = service.tdb
  const { state } = service.sim
  const tasks = await db.selectFrom('app.cleanup_task').select(['hook_id', 'state', 'attempts']).orderBy('hook_id').execute()
  t.same(Object.fromEntries(tasks.map((r) => [r.hook_id, r.state])), EXPECTED, `seed ${seed}: every hook its one outcome`)
  const events = await db.selectFrom('app.audit_event').select(['id', 'at', 'action', 'hook_id', 'outcome']).where('hook_id', 'is not', null).orderBy('id').execute()
  const deletes = state.apiLog.filter((e) => e.method === 'DELETE' && /\/hooks\/\d+$/.test(e.path))
  for (const task of tasks) {
    const mine = events.filter((e) => e.hook_id === task.hook_id)
    const outcomes = mine.filter((e) => e.action === 'hook_cleanup')
    const intents = mine.filter((e) => e.action === 'hook_delete_attempted')
    t.equal(outcomes.length, 1, `seed ${seed}, hook ${task.hook_id}: one outcome on the record`)
    t.equal(outcomes[0]?.outcome, task.state)
    t.equal(intents.length, task.attempts, `seed ${seed}, hook ${task.hook_id}: one intent per attempt`)
    const sent = deletes.filter((e) => e.path.endsWith(`/hooks/${task.hook_id}`))
    if (sent.length > 0) {
      t.ok(intents.length > 0 && intents[0]!.at.getTime() <= sent[0]!.at.getTime(), `seed ${seed}, hook ${task.hook_id}: the intent was on the record before GitHub saw the DELETE`)
      t.ok(intents.at(-1)!.id < outcomes[0]!.id, 'the outcome after the last intent')
    }
    t.ok(sent.filter((e) => e.status === 204).length <= 1, 'deleted once')
    const present = state.hookById(task.hook_id) !== undefined
    t.equal(present, !['removed', 'already_absent'].includes(task.state), `seed ${seed}, hook ${task.hook_id}: GitHub agrees with the outcome`)
  }
  t.ok(state.hookById(5002) !== undefined, 'a hook the legacy records do not name is never touched')
}

/**
 * `runs` crash runs, seeded from the clock (the seeds printed); a test file holds ten, so that
 * each file stays well within tap's per-file timeout and the files run side by side.
 */
export async function crashRuns(t: Test, runs: number, part: number): Promise<void> {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run "npm run build" first (npm test does)`)
  // Files started in the same millisecond still run different seeds.
  const seed0 = (Date.now() % 100_000) * 10 + part
  t.comment(`seeds ${seed0} to ${seed0 + (runs - 1) * 10}, by tens`)
  let killedMidway = 0
  /** Runs whose kill left a hook between its intent and its outcome (the DELETE sent or not). */
  let midDelete = 0
  for (let run = 0; run < runs; run++) {
    const seed = seed0 + run * 10
    const next = random(seed)
    await t.test(`run ${run} (seed ${seed})`, async (t) => {
      const service = await prepared(t)
      // GitHub answers 10 to 20 ms late, so that a kill can land on either side of a request.
      await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { latencyMs: 10 + Math.floor(next() * 10) } })
      const first = startWorker(service)
      // Its work takes 300 to 500 ms from "ready": the kills fall over all of it.
      const killAfter = Math.floor(next() * 400)
      await Promise.race([first.ready, first.ended])
      const timer = setTimeout(() => first.child.kill('SIGKILL'), killAfter)
      const started = Date.now()
      const ended = await first.ended
      clearTimeout(timer)
      if (ended.signal === 'SIGKILL') killedMidway++
      else t.equal(ended.code, 0, ended.stderr)
      const at = await service.tdb.db.selectFrom('app.cleanup_task').select('state').execute()
      if (at.some((r) => r.state === 'attempting')) midDelete++
      t.comment(`killed after ${killAfter} ms (ran ${Date.now() - started} ms): ${at.map((r) => r.state).sort().join(' ')}`)
      const second = await startWorker(service).ended
      t.equal(second.code, 0, second.stderr)
      t.match(second.stdout, 'done')
      await invariants(t, service, seed)
      // Once more over finished tasks (every fifth run): nothing asked, nothing recorded.
      if (run % 5 !== 0) return
      const requests = service.sim.state.apiLog.length
      const events = (await service.tdb.db.selectFrom('app.audit_event').select('id').execute()).length
      t.equal((await startWorker(service).ended).code, 0)
      t.equal(service.sim.state.apiLog.length, requests, 'a run over finished tasks asks GitHub nothing')
      t.equal((await service.tdb.db.selectFrom('app.audit_event').select('id').execute()).length, events, 'and records nothing')
    })
  }
  t.ok(killedMidway >= runs / 4, `the worker was killed before it finished in ${killedMidway} of ${runs} runs`)
  t.comment(`${midDelete} of ${runs} kills fell between an intent and its outcome`)
}
