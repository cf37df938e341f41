import { createHash } from 'node:crypto'
import { Webhooks } from '@octokit/webhooks'
import type { FastifyPluginAsync } from 'fastify'
import { appendAudit } from '../migration/audit.js'
import type { InstallationEventJob } from '../migration/installation-events.js'

// POST /github/webhooks, the App's webhook URL. The signature is checked on the exact bytes
// GitHub sent; a delivery GitHub sends again (same X-GitHub-Delivery) is taken once; the work is
// queued in the same transaction that records the delivery, and GitHub gets its answer at once.
// The delivery id is not signed, so a body seen once can come again under a new id: such a
// replay is refused (GitHub's redeliveries keep their id), and the job believes only what
// GitHub, asked by the App, confirms (src/migration/installation-events.ts).

export interface WebhookRoutesOptions {
  secret: string
}

const HANDLED = new Set(['installation', 'installation_repositories'])

interface Account {
  id: number
  login?: string
}

interface InstallationPayload {
  action: string
  installation: { id: number; account: Account | null }
  sender: { id: number; login: string }
  requester?: { id: number; login: string } | null
}

function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (app, { secret }) => {
  const webhooks = new Webhooks({ secret })
  // The signature covers the body as sent, so this route reads it as text.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 25 * 1024 * 1024 }, (_request, body, done) => done(null, body))

  app.post('/github/webhooks', async (request, reply) => {
    const deliveryId = header(request.headers['x-github-delivery'])
    const event = header(request.headers['x-github-event'])
    const signature = header(request.headers['x-hub-signature-256'])
    const body = request.body
    if (deliveryId === undefined || event === undefined) {
      return reply.code(400).send({ error: 'A GitHub webhook delivery names its X-GitHub-Delivery and X-GitHub-Event.' })
    }
    // (An empty body is refused here: the signature check throws on one.)
    if (typeof body !== 'string' || body === '') return reply.code(400).send({ error: 'A GitHub webhook delivery has a JSON body.' })
    // A delivery that is not signed, or not with this App's secret, is not looked at further.
    if (signature === undefined || !(await webhooks.verify(body, signature))) {
      request.log.warn({ deliveryId, event, signed: signature !== undefined }, 'webhook signature missing or wrong')
      return reply.code(401).send({ error: 'The X-Hub-Signature-256 signature is missing or does not match this App’s webhook secret.' })
    }
    if (!HANDLED.has(event)) return reply.code(202).send({ ignored: event })
    let payload: InstallationPayload
    try {
      payload = JSON.parse(body) as InstallationPayload
    } catch {
      return reply.code(400).send({ error: 'The body is not JSON.' })
    }
    const account = payload.installation?.account
    if (account == null || typeof payload.installation.id !== 'number') return reply.code(400).send({ error: 'The payload names no installation account.' })
    const job: InstallationEventJob = {
      deliveryId,
      event: event as InstallationEventJob['event'],
      action: payload.action,
      // The payload is a hint: the job asks GitHub what the installation is now.
      installation: { id: payload.installation.id, accountId: account.id, accountLogin: account.login ?? String(account.id) },
      sender: { id: payload.sender.id, login: payload.sender.login },
      requester: payload.requester == null ? null : { id: payload.requester.id, login: payload.requester.login },
    }
    const bodySha256 = createHash('sha256').update(body).digest('hex')
    const taken = await app.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('app.webhook_delivery')
        .values({ delivery_id: deliveryId, event, action: payload.action, installation_id: job.installation.id, applied_at: null, body_sha256: bodySha256 })
        // Either its id or its body was taken before.
        .onConflict((oc) => oc.doNothing())
        .returning('delivery_id')
        .executeTakeFirst()
      if (row === undefined) {
        const same = await trx.selectFrom('app.webhook_delivery').select('delivery_id').where('delivery_id', '=', deliveryId).executeTakeFirst()
        return same === undefined ? 'replayed' : 'duplicate'
      }
      await appendAudit(trx, {
        actor: { kind: 'github', githubId: job.sender.id, login: job.sender.login },
        action: 'webhook_received',
        target: { ownerId: account.id, ownerLogin: job.installation.accountLogin, installationId: job.installation.id },
        outcome: 'queued',
        requestId: request.id,
        detail: { deliveryId, event, action: payload.action },
      })
      await app.queue.send(trx, 'installation-event', job)
      return 'fresh'
    })
    if (taken === 'duplicate') return reply.code(200).send({ duplicate: deliveryId })
    if (taken === 'replayed') {
      request.log.warn({ deliveryId, event }, 'webhook body replayed under a new delivery id')
      return reply.code(409).send({ error: 'This body was delivered before under another X-GitHub-Delivery; each delivery is taken once.' })
    }
    app.queue.wake()
    return reply.code(202).send({ queued: deliveryId })
  })
}
