import { isInteractive, loadConfig } from '../../config.js'
import { connect } from '../../db/connect.js'
import type { SweepScope } from '../../migration/sweep.js'
import { defineCommand, describeDatabase, ExitCode, UsageError } from '../command.js'

const webhooks = (n: number): string => `${n} old ${n === 1 ? 'webhook' : 'webhooks'}`

export const cleanup = defineCommand({
  name: 'cleanup',
  summary: 'Remove the old webhooks of repositories the App already covers (the operator sweep)',
  usage: `Usage: oauth-to-app cleanup (--owner LOGIN | --all) [--dry-run]

Finds the legacy webhooks of repositories an installation of the App already covers (users
who installed the App without the migration wizard) and removes them, exactly as the wizard
does: one task per hook, read before it is deleted, never one that delivers elsewhere, each
with one outcome on the audit log. The installations are the ones GitHub lists to the App;
coverage is each installation's own list of repositories. Prints the plan per account, a
progress line while hooks are removed, and a summary: removed, already gone, kept (foreign,
not covered) and those a person has to delete, with why.

Options:
  --owner LOGIN  Only the App's installation on this account.
  --all          Every installation of the App.
  --dry-run      Print the plan and change nothing (only the sweep's own audit event is written).
  -h, --help     Show this help.

Environment: the service's own (see the README's Configuration): DATABASE_URL, the GitHub App's
settings, LEGACY_HOOK_URL, GITHUB_WRITE_SPACING_MS, GITHUB_MAX_IN_FLIGHT.
`,
  options: {
    owner: { type: 'string' },
    all: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  async run({ values }, io) {
    if ((values.owner === undefined) === (values.all !== true)) throw new UsageError('give either --owner LOGIN or --all')
    const scope: SweepScope = values.owner === undefined ? { all: true } : { owner: values.owner }
    const dryRun = values['dry-run'] === true
    const config = loadConfig(io.env)
    io.stdout.write(`database ${describeDatabase(config.databaseUrl)}\n`)
    // Loaded here, not with the command list: only this command needs Octokit.
    const [{ default: pino }, { createGitHubClients }, { createGitHubLanes }, { createOctokitClass }, { sweep }] = await Promise.all([
      import('pino'),
      import('../../github/clients.js'),
      import('../../github/lanes.js'),
      import('../../github/octokit.js'),
      import('../../migration/sweep.js'),
    ])
    const db = connect(config.databaseUrl, { max: 4, applicationName: 'oauth-to-app cleanup' })
    const log = pino({ level: 'silent' })
    const lanes = createGitHubLanes(db.pool, { writeSpacingMs: config.github.writeSpacingMs, maxInFlight: config.github.maxInFlight }, log)
    const github = createGitHubClients(config.github, createOctokitClass({ apiUrl: config.github.apiUrl, log, lanes }))
    const terminal = isInteractive(io.stdout, io.env)
    try {
      const result = await sweep(db.db, github, scope, {
        dryRun,
        hookUrl: config.legacy.hookUrl,
        report: {
          planned({ installation, hooks }) {
            io.stdout.write(`${installation.accountLogin} (installation ${installation.id}, ${installation.repositorySelection === 'all' ? 'all repositories' : 'selected repositories'}): ${webhooks(hooks.length)} to remove\n`)
            if (dryRun) for (const hook of hooks) io.stdout.write(`  hook ${hook.hook_id} on ${hook.kind === 'org' ? `the organization ${installation.accountLogin}` : `${installation.accountLogin}/${hook.repo_name}`}\n`)
          },
          progress(done, total) {
            const width = 30
            const bar = `[${'#'.repeat(Math.round((done / total) * width)).padEnd(width, ' ')}] ${done}/${total} hooks`
            // A person's terminal gets one line redrawn; a log gets a line per step.
            io.stdout.write(terminal ? `\r${bar}${done === total ? '\n' : ''}` : `${bar}\n`)
          },
        },
      })
      const hooks = result.plans.reduce((n, p) => n + p.hooks.length, 0)
      if (result.plans.length === 0) io.stdout.write(`no installation of the App ${'owner' in scope ? `on ${scope.owner}` : 'at all'}: nothing to do\n`)
      if (dryRun) {
        io.stdout.write(`dry run: ${webhooks(hooks)} would be removed; nothing was changed\n`)
        return ExitCode.ok
      }
      const o = result.outcomes
      io.stdout.write(
        `removed ${o.removed ?? 0}, already gone ${o.already_absent ?? 0}, kept: foreign ${o.skipped_foreign ?? 0}, not covered ${o.not_covered ?? 0}; needs a person ${o.needs_manual ?? 0}; still open ${o.open ?? 0}\n`,
      )
      for (const hook of result.manual) io.stdout.write(`  hook ${hook.hookId}: ${hook.reason}\n`)
      if ((o.open ?? 0) > 0) io.stdout.write('GitHub did not answer for the hooks still open: run the sweep again later.\n')
      return (o.open ?? 0) > 0 ? ExitCode.failure : ExitCode.ok
    } finally {
      await lanes.close()
      await db.close()
    }
  },
})
