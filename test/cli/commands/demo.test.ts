import { DEMO_RECEIVER_SECRET } from '../../../src/demo.js'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { runCli } from '../../../src/cli/main.js'
import { DEMO_DATABASE } from '../../../src/demo.js'
import { freePort } from '../../../src/db/embedded-postgres.js'
import { captureIo } from '../../helpers/cli-io.js'
import { testDatabase } from '../../helpers/database.js'
import { toolEnv } from '../../helpers/child-env.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))


// The command always uses the database DEMO_DATABASE on the server: dropped after each test.
async function demoServer(t: Test): Promise<string> {
  const server = (await testDatabase(t, { migrate: false })).url
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: server })
    await c.connect()
    await c.query(`drop database if exists ${DEMO_DATABASE} with (force)`)
    await c.end()
  })
  return server
}

t.test('`oauth-to-app demo` serves the demo world until SIGTERM, then stops cleanly', async (t) => {
  const server = await demoServer(t)
  const child = spawn(process.execPath, [...process.execArgv, 'src/cli/main.ts', 'demo', '--port', '0', '--github-port', '0', '--host', '127.0.0.1'], {
    cwd: root,
    env: { ...toolEnv(), DATABASE_URL: server },
  })
  let stdout = ''
  const running = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      const m = /running at (http:\/\/\S+)/.exec(stdout)
      if (m) resolve(m[1]!)
    })
    child.on('close', (code) => reject(new Error(`demo exited ${code}: ${stdout}`)))
  })
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve))
  const url = await running
  t.match(stdout, 'Using the Postgres server at DATABASE_URL')
  t.match(stdout, 'sign in as sam, support, or olga, operator', 'the banner names the demo staff')
  const hook = await fetch(`${url}/legacy/hooks/6000`, { headers: { authorization: `Bearer ${DEMO_RECEIVER_SECRET}` } })
  t.equal(hook.status, 200)
  t.match(await hook.json(), { hook_id: 6000, state: 'active' }, "acme's organization hook, from the demo's legacy records")
  t.equal((await fetch(`${url}/staff/inventory`)).status, 404, 'the staff console is for signed-in staff, in the demo too')
  child.kill('SIGTERM')
  t.equal(await exit, 0)
  t.match(stdout, 'Stopping')
})

t.test('a port in use, or a wrong one, is named', async (t) => {
  const server = await demoServer(t)
  const port = await freePort()
  const blocker = createServer().listen(port, '127.0.0.1')
  t.teardown(() => blocker.close())
  await new Promise((resolve) => blocker.once('listening', resolve))
  const busy = captureIo({ DATABASE_URL: server })
  t.equal(await runCli(['demo', '--port', String(port), '--github-port', '0', '--host', '127.0.0.1'], busy), 1)
  t.match(busy.stderr.text, `port ${port} or 0 is already in use`)
  const world = captureIo({ DATABASE_URL: server })
  t.equal(await runCli(['demo', '--port', '0', '--github-port', '0', '--world', 'package.json'], world), 1)
  t.match(world.stderr.text, /^oauth-to-app demo: package\.json: \/: must have required property 'app'\n$/)
  const dataDir = path.resolve('.data', `demo-cli-${process.pid}`)
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const embedded = captureIo({})
  t.equal(await runCli(['demo', '--port', '0', '--github-port', '0', '--world', 'package.json', '--data-dir', dataDir], embedded), 1)
  t.match(embedded.stdout.text, 'Starting the embedded Postgres')
  const wrong = captureIo({ DATABASE_URL: server })
  t.equal(await runCli(['demo', '--port', 'http'], wrong), 2)
  t.match(wrong.stderr.text, /--port must be a whole number from 0 to 65535, not "http"/)
})
