import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { Work } from './background-work.js'
import { planFingerprintSql } from './plan-cache.js'
import { tasksFingerprintSql, type TaskScope } from './task-cache.js'

// A visit to the wizard's page of a plan kept with its tasks (plan-cache.ts, task-cache.ts)
// reads six small things: both fingerprints, the planning's and the owners' checks' progress
// and the user's consent. Each its own statement in a repeatable read transaction, they were
// eight round trips to Postgres a visit, most of what the page waited on under load; one
// statement reads them all, in the one snapshot a statement has. The kept plan names the owners
// and the tasks' scope to read for: if its fingerprint is unchanged, they are the plan's.

/** What a visit to a kept plan's page reads, besides the plan and its tasks. */
export interface PageGlance {
  /** Null: the user has no plan now. */
  planFingerprint: string | null
  tasksFingerprint: string
  planning: Work | undefined
  /** The coverage checks of the owners asked for, by owner id. */
  coverage: Work[]
  consent: { auto: boolean } | undefined
}

/** A glance at the page of `userId`'s plan, of these owners and its tasks' scope, in one statement. */
export async function pageGlance(db: Kysely<Database>, userId: number, ownerIds: readonly number[], tasks: TaskScope): Promise<PageGlance> {
  // One row of the glance's own columns, with the work rows joined to it (none: one row of nulls).
  const { rows } = await sql<Partial<Work> & { plan_fingerprint: string | null; tasks_fingerprint: string; consent_auto: boolean | null }>`
    select g.*, w.*
    from (select ${planFingerprintSql(userId)} as plan_fingerprint, ${tasksFingerprintSql(tasks)} as tasks_fingerprint,
      (select auto from app.cleanup_consent where user_id = ${userId}) as consent_auto) g
    left join app.background_work w
      on (w.kind = 'plan' and w.subject_id = ${userId}) or (w.kind = 'coverage' and w.subject_id = any(${[...ownerIds]}::bigint[]))
    order by w.subject_id`.execute(db)
  const { plan_fingerprint, tasks_fingerprint, consent_auto } = rows[0]!
  const works = rows.filter((row) => row.kind !== null).map(({ plan_fingerprint: _p, tasks_fingerprint: _t, consent_auto: _c, ...work }) => work as Work)
  return {
    planFingerprint: plan_fingerprint,
    tasksFingerprint: tasks_fingerprint,
    planning: works.find((w) => w.kind === 'plan'),
    coverage: works.filter((w) => w.kind === 'coverage'),
    consent: consent_auto === null ? undefined : { auto: consent_auto },
  }
}
