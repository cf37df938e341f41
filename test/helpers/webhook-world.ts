import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import type { Test } from 'tap'
import { signature, webhookPayload } from '../../src/simulator/delivery.js'
import type { SimEvent } from '../../src/simulator/state.js'
import { serviceWithGitHub, type Service } from './service.js'
import { signIn } from './sign-in.js'
import { followSetup, formAction, installOnGitHub, press, settled, view } from './wizard.js'

// For the tests of the App's webhooks (test/routes/github-webhook*.test.ts): deliveries signed
// as the simulator signs them, what one leaves behind, and mona covered through the wizard.

export const MONA = 1
export const SECRET = 'sim-webhook-secret'

export function section(body: string, owner: string): string {
  const start = body.indexOf(`id="owner-${owner}"`)
  if (start < 0) throw new Error(`no batch for ${owner}`)
  return body.slice(start, body.indexOf('</section>', start))
}

export async function ownerSection(service: Service, cookie: string, owner: string): Promise<string> {
  return section((await view(service.app, cookie)).body, owner)
}

/** Presses the button of the owner's batch on /migrate; returns where it leads (GitHub's install page). */
export async function pressFor(service: Service, cookie: string, owner: string, label: string): Promise<string> {
  const res = await press(service.app, cookie, formAction(await ownerSection(service, cookie, owner), label))
  return res.headers.location as string
}

export interface Delivery {
  event?: string
  deliveryId?: string
  body: string
  /** The X-Hub-Signature-256 header; by default the right one. */
  signature?: string
  contentType?: string
}

export async function post(app: FastifyInstance, d: Delivery): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { 'content-type': d.contentType ?? 'application/json', 'user-agent': 'GitHub-Hookshot/test' }
  if (d.event !== undefined) headers['x-github-event'] = d.event
  if (d.deliveryId !== undefined) headers['x-github-delivery'] = d.deliveryId
  const sig = d.signature ?? signature('sha256', SECRET, d.body)
  if (sig !== '') headers['x-hub-signature-256'] = sig
  return app.inject({ method: 'POST', url: '/github/webhooks', headers, payload: d.body })
}

/** An event's body exactly as GitHub (the simulator) would send it. */
export function bodyOf(service: Service, event: SimEvent): string {
  return JSON.stringify(webhookPayload(service.sim.state, event, service.sim.url))
}

/** An event's body byte for byte as the simulator delivers it (its payloads name it as localhost). */
export function deliveredBodyOf(service: Service, event: SimEvent): string {
  return JSON.stringify(webhookPayload(service.sim.state, event, service.sim.url.replace('127.0.0.1', 'localhost')))
}

/** What a delivery could leave behind. */
export async function recorded(service: Service) {
  const db = service.tdb.db
  const { rows } = await sql<{ id: string; state: string; data: { deliveryId: string } }>`select id, state, data from pgboss.job where name = 'installation-event' order by created_on`.execute(db)
  return {
    deliveries: await db.selectFrom('app.webhook_delivery').selectAll().execute(),
    received: await db.selectFrom('app.audit_event').selectAll().where('action', '=', 'webhook_received').execute(),
    jobs: rows,
    installations: await db.selectFrom('app.installation').selectAll().execute(),
  }
}

export async function auditOf(service: Service, action: string) {
  return service.tdb.db.selectFrom('app.audit_event').selectAll().where('action', '=', action).orderBy('id').execute()
}

export async function batchOf(service: Service, ownerLogin: string) {
  return service.tdb.db.selectFrom('app.batch').selectAll().where('user_id', '=', MONA).where('owner_login', '=', ownerLogin).executeTakeFirstOrThrow()
}

/** mona signed in, the App installed on her account through the wizard, every repo covered. */
export async function monaCovered(t: Test): Promise<{ service: Service; cookie: string; installationId: number }> {
  const service = await serviceWithGitHub(t)
  const { app, sim } = service
  const cookie = await signIn(app, sim, MONA)
  const link = await pressFor(service, cookie, 'mona', 'Install on mona')
  const setupPath = installOnGitHub(sim, link, 'mona')
  await followSetup(app, sim, cookie, setupPath, MONA)
  await settled(service)
  const mona = await ownerSection(service, cookie, 'mona')
  if (!/Covered[\s\S]*3 covered/.test(mona)) throw new Error('mona is not covered to begin with')
  return { service, cookie, installationId: Number(new URL(setupPath, 'http://x').searchParams.get('installation_id')) }
}
