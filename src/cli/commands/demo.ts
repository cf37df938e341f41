import { once } from 'node:events'
import { databaseUrlFrom } from '../../config.js'
import { defineCommand, ExitCode, UsageError } from '../command.js'

function portOption(name: string, value: string): number {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${name} must be a whole number from 0 to 65535, not "${value}"`)
  return port
}

export const demo = defineCommand({
  name: 'demo',
  summary: 'Run the service with demo data on an embedded Postgres at http://localhost:3000',
  usage: `Usage: oauth-to-app demo [--port N] [--host HOST] [--world FILE]

Starts everything a newcomer needs to look around, on this machine only: an embedded
Postgres (data kept in .data/postgres-demo between runs), the service's migrations, the
legacy registrations of the demo world imported as a vendor's CSV would be, and the service
itself. Ctrl-C stops it all. This is what \`npm run demo\` runs.

Options:
  --port N       Port to serve on (default 3000).
  --host HOST    Address to listen on (default localhost).
  --world FILE   A simulator world file (default src/simulator/worlds/demo.json).
  --data-dir DIR Where the embedded Postgres keeps its data (default .data/postgres-demo).
  --github-port N  Port of the simulated GitHub (default 3001).
  -h, --help     Show this help.

Environment:
  DATABASE_URL  Optional. When set, the demo creates (or reuses) a database named
                oauth_to_app_demo on that server instead of starting an embedded Postgres;
                the database named in the URL itself is left untouched.
`,
  options: {
    port: { type: 'string', default: '3000' },
    host: { type: 'string', default: 'localhost' },
    world: { type: 'string' },
    'data-dir': { type: 'string' },
    'github-port': { type: 'string', default: '3001' },
  },
  async run({ values }, io) {
    const port = portOption('--port', values.port)
    const githubPort = portOption('--github-port', values['github-port'])
    const serverUrl = databaseUrlFrom(io.env)
    io.stdout.write(serverUrl ? 'Using the Postgres server at DATABASE_URL…\n' : 'Starting the embedded Postgres…\n')
    const { defaultDataDir, startDemo } = await import('../../demo.js')
    let running
    try {
      running = await startDemo({ port, githubPort, host: values.host, serverUrl, dataDir: values['data-dir'] ?? defaultDataDir(), worldFile: values.world })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        io.stderr.write(`oauth-to-app demo: port ${port} or ${githubPort} is already in use; stop what uses it or pass --port / --github-port\n`)
        return ExitCode.failure
      }
      throw error
    }
    io.stdout.write(
      `\noauth-to-app demo is running at ${running.url}\n` +
        `  staff console: ${running.url}/staff (sign in as sam, support, or olga, operator; try what happened to acme/web)\n` +
        `  simulated GitHub: ${running.githubUrl} (sign in there as ${running.users.join(', ')})\n` +
        `  world: ${running.world}\n` +
        'Press Ctrl-C to stop.\n',
    )
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
    io.stdout.write('\nStopping…\n')
    await running.close()
    return ExitCode.ok
  },
})
