import pino from 'pino'
import { createGitHubClients } from '../../src/github/clients.js'
import { createGitHubLanes } from '../../src/github/lanes.js'
import { createOctokitClass } from '../../src/github/octokit.js'
import { connect } from '../../src/db/connect.js'
import { runCleanup } from '../../src/migration/cleanup.js'
import { openTasks } from '../../src/migration/cleanup-task.js'

// A cleanup worker as a process of its own, for the crash runs of the resilience suite
// (test/resilience/cleanup-crash.resilience.ts) to kill at any moment: it runs the owners'
// cleanup, through the lanes, until no task is open, then says "done". Its configuration comes
// as one JSON argument.

interface WorkerConfig {
  databaseUrl: string
  webUrl: string
  apiUrl: string
  appId: number
  privateKey: string
  hookUrl: string
  owners: number[]
}

const config = JSON.parse(process.argv[2]!) as WorkerConfig
const db = connect(config.databaseUrl, { max: 4, applicationName: 'cleanup worker' })
const log = pino({ level: 'silent' })
const lanes = createGitHubLanes(db.pool, { writeSpacingMs: 1, retryAfterUnitMs: 1, secondaryParkMs: 5, maxSecondaryParkMs: 20 }, log)
const GitHub = createOctokitClass({ apiUrl: config.apiUrl, log, lanes, retryAfterBaseMs: 1 })
const github = createGitHubClients(
  { webUrl: config.webUrl, apiUrl: config.apiUrl, appId: config.appId, appSlug: 'app', clientId: 'client', clientSecret: 'secret', privateKey: config.privateKey, webhookSecret: 'secret' },
  GitHub,
)
// Started: the test's clock for a kill starts here, not with the process.
process.stdout.write('ready\n')
for (const owner of config.owners) {
  // Runs of three hooks, each followed at once by the next (the test's GitHub has no bad
  // minutes); whatever is still open after twenty the test's invariants report.
  const again: number[] = []
  for (let runs = 0; runs < 20 && (await openTasks(db.db, owner, 1)).length > 0; runs++) {
    await runCleanup(db.db, github, owner, { hookUrl: config.hookUrl, maxTasks: 3, again: async (_owner, after) => void again.push(after) })
  }
}
await lanes.close()
await db.close()
process.stdout.write('done\n')
