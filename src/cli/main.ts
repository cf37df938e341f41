#!/usr/bin/env node
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { processEnv } from '../config.js'
import { dispatch, type CliIo, type Command } from './command.js'
import { auditExport } from './commands/audit-export.js'
import { auditVerify } from './commands/audit-verify.js'
import { cleanup } from './commands/cleanup.js'
import { demo } from './commands/demo.js'
import { legacyImport } from './commands/legacy-import.js'
import { migrate } from './commands/migrate.js'
import { reportBefore } from './commands/report-before.js'
import { reportSnapshot } from './commands/report-snapshot.js'
import { sim } from './commands/sim.js'

/** Every `oauth-to-app` command, in the order `--help` lists them. Adding one: import it, list it. */
export const commands: readonly Command[] = [migrate, legacyImport, cleanup, reportSnapshot, reportBefore, auditExport, auditVerify, demo, sim]

export function runCli(argv: readonly string[], io: CliIo, available: readonly Command[] = commands): Promise<number> {
  return dispatch(available, argv, io)
}

// Imported by tests, run as the `oauth-to-app` bin; npm links the bin, hence the realpath.
if (realpathSync(process.argv[1]!) === fileURLToPath(import.meta.url)) {
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: processEnv() }
  process.exitCode = await runCli(process.argv.slice(2), io)
}
