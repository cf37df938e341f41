import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { GitHubClients } from '../github/clients.js'
import { addRepos, type AddReposJob } from './add-repos.js'
import { applyInstallationEvent, type InstallationEventJob } from './installation-events.js'

// The background jobs, by queue name, and what runs them.

export interface Jobs {
  'installation-event': InstallationEventJob
  'add-repos': AddReposJob
}

export type JobName = keyof Jobs

export type JobHandlers = { [N in JobName]: (data: Jobs[N]) => Promise<void> }

export function jobHandlers(db: Kysely<Database>, github: GitHubClients): JobHandlers {
  return {
    'installation-event': (job) => applyInstallationEvent(db, github, job),
    'add-repos': (job) => addRepos(db, github, job),
  }
}
