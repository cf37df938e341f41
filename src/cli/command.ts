import { open } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { databaseUrlFrom, type Env } from '../config.js'

// The `oauth-to-app` command framework: what a command is, how argv reaches it, and how its
// outcome becomes output and an exit code. The list of commands lives in ./main.ts.

export const PROGRAM = 'oauth-to-app'

/** 0 done, 1 the work failed, 2 the command line was wrong (the shell convention). */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const

export interface CliIo {
  /** For commands that read `-` as a file name. */
  stdin: Readable
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  /** The environment; commands read it through src/config.ts helpers, never process.env. */
  env: Env
}

export type CommandOptions = NonNullable<ParseArgsConfig['options']>

// Strict parsing with positionals allowed, so `values` is typed from the command's options.
type Parsed<O extends CommandOptions> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>

export interface CommandArgs<O extends CommandOptions = CommandOptions> {
  values: Parsed<O>['values']
  positionals: string[]
}

export interface Command<O extends CommandOptions = CommandOptions> {
  /** What the operator types: `oauth-to-app <name>`. */
  name: string
  /** One line for the command list. */
  summary: string
  /** Printed verbatim by `oauth-to-app <name> --help`: synopsis, options, examples. */
  usage: string
  /** node:util parseArgs options; `--help`/`-h` is added for every command. */
  options: O
  /** Names of the required positional arguments, as in the usage text; none when absent. */
  arguments?: readonly string[]
  /** Returns the exit code; throws UsageError for a wrong command line. */
  run(args: CommandArgs<O>, io: CliIo): Promise<number>
}

/** Keeps the option names and types of `options` for `run`'s `args.values`. */
export function defineCommand<const O extends CommandOptions>(command: Command<O>): Command<O> {
  return command
}

/** A wrong command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

// Errors whose message is written for the operator: printed as they are, without a stack.
// Known by name, so that the command list loads no command's modules (a report's process
// should not carry the simulator, the server and Octokit in memory, nor wait for them to load).
const EXPLAINED = new Set(['ConfigError', 'MigrationError', 'EmbeddedPostgresError', 'WorldError'])

function write(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function commandList(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run "${PROGRAM} <command> --help" for the options of a command.`,
    '',
  ].join('\n')
}

function parse(command: Command, argv: readonly string[]): CommandArgs & { help: boolean } {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    })
  } catch (error) {
    // parseArgs' own wording names the option; its advice about `--` is noise here.
    const { code, message } = error as NodeJS.ErrnoException
    if (code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError(message.replace(/\. To specify a positional.*$/s, '.'))
    throw error
  }
  const { help, ...values } = parsed.values
  return { values, positionals: parsed.positionals, help: help === true }
}

function checkArguments(command: Command, positionals: readonly string[]): void {
  const names = command.arguments ?? []
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).join(' ')}`)
  }
  if (positionals.length > names.length) {
    throw new UsageError(`unexpected argument "${positionals[names.length]}"`)
  }
}

async function runCommand(command: Command, argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(command, argv)
  if (args.help) {
    write(io.stdout, command.usage)
    return ExitCode.ok
  }
  checkArguments(command, args.positionals)
  return command.run({ values: args.values, positionals: args.positionals }, io)
}

/** `oauth-to-app <command> [options]`: finds the command, runs it, and maps errors to exit codes. */
export async function dispatch(commands: readonly Command[], argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    write(io.stderr, commandList(commands))
    return ExitCode.usage
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const [topic] = rest
    if (topic !== undefined) return dispatch(commands, [topic, '--help'], io)
    write(io.stdout, commandList(commands))
    return ExitCode.ok
  }
  const command = commands.find((c) => c.name === name)
  if (command === undefined) {
    const what = name.startsWith('-') ? 'option' : 'command'
    write(io.stderr, `${PROGRAM}: unknown ${what} "${name}"\n\n${commandList(commands)}`)
    return ExitCode.usage
  }
  try {
    return await runCommand(command, rest, io)
  } catch (error) {
    if (error instanceof UsageError) {
      write(io.stderr, `${PROGRAM} ${command.name}: ${error.message}\nRun "${PROGRAM} ${command.name} --help" for usage.`)
      return ExitCode.usage
    }
    if (error instanceof Error && EXPLAINED.has(error.name)) {
      write(io.stderr, `${PROGRAM} ${command.name}: ${(error as Error).message}`)
      return ExitCode.failure
    }
    // Only the first line: a driver's message can carry a query or a payload after it.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    write(io.stderr, `${PROGRAM} ${command.name}: unexpected error: ${message.split('\n')[0]}`)
    return ExitCode.failure
  }
}

/** DATABASE_URL for a command that cannot work without one. */
export function requireDatabaseUrl(env: Env): string {
  const url = databaseUrlFrom(env)
  if (url === undefined) {
    throw new UsageError('DATABASE_URL is required: set it to the postgres:// URL of the service database')
  }
  return url
}

/** user@host:port/database, for telling the operator which database a command works on. */
export function describeDatabase(url: string): string {
  const u = new URL(url)
  const user = u.username === '' ? '' : `${decodeURIComponent(u.username)}@`
  return `${user}${u.host}${u.pathname}`
}

/**
 * FILE opened for writing (created or emptied), for an --out option: a directory that does not
 * exist or a file that cannot be written is the command line's problem, said before any work.
 */
export async function writableFile(file: string, named = file): Promise<NodeJS.WritableStream> {
  const handle = await open(file, 'w').catch((error: NodeJS.ErrnoException) => {
    // Node's message names the path it opened, which for a file written aside is not FILE.
    throw new UsageError(`cannot write ${named}: ${error.code === 'ENOENT' ? 'no such directory' : error.message.split(',')[0]}`)
  })
  // Large writes: a report of hundreds of megabytes in 16 kB pieces spends its time in system calls.
  return handle.createWriteStream({ highWaterMark: 1 << 20 })
}
