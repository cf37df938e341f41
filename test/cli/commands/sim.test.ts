import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { startSim } from '../../../src/cli/commands/sim.js'
import { runCli } from '../../../src/cli/main.js'
import { captureIo } from '../../helpers/cli-io.js'
import { toolEnv } from '../../helpers/child-env.js'
import { rsaKeyPair } from '../../helpers/keys.js'
import { demoWorld } from '../../helpers/simulator.js'

const root = fileURLToPath(new URL('../../..', import.meta.url))

t.test('`oauth-to-app sim` serves the demo world until SIGTERM, then stops cleanly', async (t) => {
  const child = spawn(process.execPath, [...process.execArgv, 'src/cli/main.ts', 'sim', '--port', '0'], { cwd: root, env: toolEnv() })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const running = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      const m = /running at (http:\/\/\S+)[\s\S]*Press Ctrl-C/.exec(stdout)
      if (m) resolve(m[1]!)
    })
    child.on('close', (code) => reject(new Error(`sim exited ${code}: ${stdout}${stderr}`)))
  })
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve))
  const url = await running
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(stdout, `API:       ${url}/api/v3`)
  t.match(stdout, `controls:  ${url}/_sim/state`)
  t.match(stdout, `app key:   ${url}/_sim/app-key`)
  t.match(stdout, `world:     ${path.join(root, 'src', 'simulator', 'worlds', 'demo.json')}`)
  t.match(stdout, 'mona: installs on mona, acme; requests for widgets; has a legacy token')
  t.match(stdout, 'hubot: installs on hubot; requests for acme; no legacy token')
  t.equal((await fetch(`${url}/login`)).status, 200)
  const state = (await (await fetch(`${url}/_sim/state`)).json()) as { app: { slug: string } }
  t.equal(state.app.slug, 'acme-ci')
  t.match(await (await fetch(`${url}/_sim/app-key`)).text(), /BEGIN RSA PRIVATE KEY/)
  child.kill('SIGTERM')
  t.equal(await exit, 0)
  t.match(stdout, 'Stopping')
})

t.test('a world with a key file and no webhook URL, started in-process', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sim-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, 'app.pem'), rsaKeyPair().privateKey)
  const world = demoWorld()
  world.app.private_key_file = 'app.pem'
  delete world.app.name
  delete world.app.webhook_url
  world.users.push({ id: 4, login: 'solo' })
  const file = path.join(dir, 'world.json')
  await writeFile(file, JSON.stringify(world))
  const running = await startSim({ file, port: 0, host: '127.0.0.1' })
  t.teardown(() => running.close())
  t.match(running.banner, `app key:   ${path.join(dir, 'app.pem')} (from the world)`)
  t.match(running.banner, 'app:       acme-ci (id 9001, client id Iv1.simacmeci)')
  t.match(running.banner, 'webhooks:  none')
  t.match(running.banner, /solo: installs on solo; no legacy token\n/)
  t.equal((await fetch(`${running.url}/_sim/app-key`)).status, 404)
})

t.test('bad worlds, busy ports and wrong options are named', async (t) => {
  const invalid = captureIo({})
  t.equal(await runCli(['sim', '--world', 'package.json', '--port', '0'], invalid), 1)
  t.match(invalid.stderr.text, /^oauth-to-app sim: package\.json: \/: must have required property 'app'\n$/)
  const missing = captureIo({})
  t.equal(await runCli(['sim', '--world', 'no/such/world.json'], missing), 1)
  t.match(missing.stderr.text, 'no/such/world.json: cannot be read (ENOENT)')

  const blocker = createServer().listen(0, '127.0.0.1')
  t.teardown(() => blocker.close())
  await once(blocker, 'listening')
  const port = (blocker.address() as { port: number }).port
  const busy = captureIo({})
  t.equal(await runCli(['sim', '--port', String(port)], busy), 1)
  t.match(busy.stderr.text, `port ${port} is already in use`)

  const host = captureIo({})
  t.equal(await runCli(['sim', '--port', '0', '--host', '203.0.113.1'], host), 1)
  t.match(host.stderr.text, /unexpected error: .*EADDRNOTAVAIL/)

  for (const wrong of ['http', '-1', '65536', '1.5']) {
    const io = captureIo({})
    t.equal(await runCli(['sim', `--port=${wrong}`], io), 2, wrong)
    t.match(io.stderr.text, `--port must be a whole number from 0 to 65535, not "${wrong}"`)
  }
  const help = captureIo({})
  t.equal(await runCli(['sim', '--help'], help), 0)
  t.match(help.stdout.text, 'Usage: oauth-to-app sim [--world FILE] [--port N] [--host HOST]')
  const list = captureIo({})
  await runCli(['help'], list)
  t.match(list.stdout.text, /\n {2}sim +Run the GitHub simulator alone/)
})
