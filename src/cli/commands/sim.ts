import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { projectRoot } from '../../project-root.js'
import type { SimState } from '../../simulator/state.js'
import { defineCommand, ExitCode, UsageError } from '../command.js'

export const DEFAULT_SIM_PORT = 3001

function defaultWorld(): string {
  return path.join(projectRoot(), 'src', 'simulator', 'worlds', 'demo.json')
}

/** One line per world user: what they can do with the app, so a person knows whom to pick. */
function userHints(state: SimState): string[] {
  return [...state.users.values()].map((user) => {
    const orgs = state.orgsOf(user.id)
    const owns = [user.login, ...orgs.filter((o) => o.members.get(user.id) === 'admin').map((o) => o.login)]
    const member = orgs.filter((o) => o.members.get(user.id) === 'member').map((o) => o.login)
    const parts = [`installs on ${owns.join(', ')}`]
    if (member.length > 0) parts.push(`requests for ${member.join(', ')}`)
    parts.push(user.legacyToken === null ? 'no legacy token' : 'has a legacy token')
    return `  ${user.login}: ${parts.join('; ')}`
  })
}

export interface RunningSim {
  url: string
  /** What to print: the URLs, the app, and whom to sign in as. */
  banner: string
  close(): Promise<void>
}

/** Loads the world and serves it; throws WorldError for a bad world, EADDRINUSE for a busy port. */
export async function startSim(options: { file: string; port: number; host: string }): Promise<RunningSim> {
  const { file, port, host } = options
  const [{ loadWorld }, { buildSimulator }] = await Promise.all([import('../../simulator/world.js'), import('../../simulator/server.js')])
  const loaded = await loadWorld(file)
  const simulator = await buildSimulator({ world: loaded.world, privateKey: loaded.privateKey, logLevel: 'warn' })
  try {
    await simulator.app.listen({ port, host })
  } catch (error) {
    await simulator.app.close()
    throw error
  }
  const { port: bound } = simulator.app.server.address() as AddressInfo
  const url = `http://${host}:${bound}`
  const { app } = simulator.state
  const key = simulator.keys.generated ? `${url}/_sim/app-key` : `${path.resolve(path.dirname(file), app.private_key_file!)} (from the world)`
  const banner = [
    `GitHub simulator running at ${url}`,
    `  world:     ${file}`,
    `  web:       ${url}   (GITHUB_WEB_URL)`,
    `  API:       ${url}/api/v3   (GITHUB_API_URL)`,
    `  controls:  ${url}/_sim/state`,
    `  app:       ${app.name ?? app.slug} (id ${app.id}, client id ${app.client_id}), install at ${url}/apps/${app.slug}/installations/new`,
    `  app key:   ${key}`,
    `  webhooks:  ${app.webhook_url ?? 'none (the world has no app.webhook_url)'}`,
    `Sign in at ${url}/login as one of:`,
    ...userHints(simulator.state),
    'Press Ctrl-C to stop.',
    '',
  ].join('\n')
  return { url, banner, close: () => simulator.app.close() }
}

export const sim = defineCommand({
  name: 'sim',
  summary: `Run the GitHub simulator alone (web pages, REST API, /_sim/ controls) at http://127.0.0.1:${DEFAULT_SIM_PORT}`,
  usage: `Usage: oauth-to-app sim [--world FILE] [--port N] [--host HOST]

Serves a simulated GitHub loaded from a world file, laid out like GitHub Enterprise Server:
web pages (sign-in, OAuth authorization, app installation) at /, the REST API at /api/v3,
test controls at /_sim/. Webhooks go to the world's app.webhook_url. State lives in memory
and is lost when it stops (Ctrl-C). This is what \`npm run sim\` runs.

Options:
  --world FILE  A world file (shared/contracts/world.schema.json; default
                src/simulator/worlds/demo.json).
  --port N      Port to serve on (default ${DEFAULT_SIM_PORT}; 0 picks a free one).
  --host HOST   Address to listen on (default 127.0.0.1).
  -h, --help    Show this help.

Point the service at it with GITHUB_WEB_URL=http://HOST:N and GITHUB_API_URL=http://HOST:N/api/v3.
`,
  options: {
    world: { type: 'string' },
    port: { type: 'string', default: String(DEFAULT_SIM_PORT) },
    host: { type: 'string', default: '127.0.0.1' },
  },
  async run({ values }, io) {
    const port = Number(values.port)
    if (!/^\d+$/.test(values.port) || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, not "${values.port}"`)
    let running
    try {
      running = await startSim({ file: values.world ?? defaultWorld(), port, host: values.host })
    } catch (error) {
      if (error instanceof Error && error.name === 'WorldError') {
        io.stderr.write(`oauth-to-app sim: ${error.message}\n`)
        return ExitCode.failure
      }
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        io.stderr.write(`oauth-to-app sim: port ${port} is already in use; stop what uses it or pass --port\n`)
        return ExitCode.failure
      }
      throw error
    }
    io.stdout.write(running.banner)
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
    io.stdout.write('\nStopping…\n')
    await running.close()
    return ExitCode.ok
  },
})
