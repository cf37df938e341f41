import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhooks } from '@octokit/webhooks'
import type { Test } from 'tap'

// A local HTTP receiver standing in for the service's webhook endpoint.

export const SECRET = 'sim-webhook-secret'

export interface Received {
  headers: IncomingHttpHeaders
  body: string
}

/** Records what it receives; `hold` keeps the answers back until `release`. */
export async function receiver(t: Test, status = 202) {
  const received: Received[] = []
  let release: (() => void) | undefined
  let held: Promise<void> | undefined
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      received.push({ headers: req.headers, body })
      void (held ?? Promise.resolve()).then(() => res.writeHead(status).end('thanks'))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    release?.()
    server.closeAllConnections()
    server.close()
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/github/webhooks`,
    received,
    hold() {
      held = new Promise((resolve) => (release = resolve))
    },
    release: () => release?.(),
  }
}

/** The payload, after checking its signature as an app would. */
export async function verified(r: Received): Promise<Record<string, unknown>> {
  const webhooks = new Webhooks({ secret: SECRET })
  if (!(await webhooks.verify(r.body, String(r.headers['x-hub-signature-256'])))) throw new Error('bad signature')
  return JSON.parse(r.body) as Record<string, unknown>
}

