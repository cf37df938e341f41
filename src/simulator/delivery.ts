import { createHmac, randomUUID } from 'node:crypto'
import { installation as serializeInstallation, nodeId, simpleUser, type Origin } from './serialize.js'
import type { Repo, SimEvent, SimState } from './state.js'

// Webhook delivery to the app's webhook URL, as GitHub's Hookshot does it: one signed JSON POST
// per event, sent after the request that caused it has been answered, one at a time in event
// order, each outcome recorded in state.deliveries. The payload is built when the event
// happens, so later changes (an uninstall right after) do not leak into it.

export interface WebhookDelivery {
  /** Queues the event; returns at once. */
  send(event: SimEvent): void
  /** Resolves when every queued delivery has been answered or has failed. */
  settle(): Promise<void>
  /** Deliveries queued and not finished. */
  pending(): number
}

export interface DeliveryOptions {
  /** The simulator's origin (http://host:port), for the URLs inside payloads. */
  origin: () => string
  /** How long to wait for the receiver; GitHub gives up after 10 s. */
  timeoutMs?: number
}

function repoJson(state: SimState, repo: Repo) {
  return { id: repo.id, node_id: nodeId('Repository', repo.id), name: repo.name, full_name: state.fullName(repo), private: repo.private }
}

/** The body GitHub sends for the event. */
export function webhookPayload(state: SimState, event: SimEvent, web: string): Record<string, unknown> {
  const origin: Origin = { web, api: `${web}/api/v3`, host: new URL(web).host }
  const installation = serializeInstallation(origin, state, event.installation)
  const sender = simpleUser(origin, event.sender)
  if (event.name === 'installation') {
    const listsRepos = event.action === 'created' || event.action === 'deleted'
    return {
      action: event.action,
      installation,
      ...(listsRepos ? { repositories: state.installationRepos(event.installation).map((repo) => repoJson(state, repo)) } : {}),
      requester: event.requester === undefined ? null : simpleUser(origin, event.requester),
      sender,
    }
  }
  return {
    action: event.action,
    installation,
    repository_selection: event.installation.repositorySelection,
    repositories_added: event.added.map((repo) => repoJson(state, repo)),
    repositories_removed: event.removed.map((repo) => repoJson(state, repo)),
    requester: event.requester === undefined ? null : simpleUser(origin, event.requester),
    sender,
  }
}

export function signature(algorithm: 'sha1' | 'sha256', secret: string, body: string): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`
}

function failureOf(error: unknown): string {
  if ((error as Error).name === 'TimeoutError') return 'timeout'
  // fetch wraps network failures; the cause says what happened (ECONNREFUSED, bad port...).
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  /* c8 ignore next: fetch gives every network failure a cause with a code or a message */
  return cause?.code ?? cause?.message ?? 'network error'
}

export function webhookDelivery(state: SimState, options: DeliveryOptions): WebhookDelivery {
  const timeoutMs = options.timeoutMs ?? 10_000
  let queue = Promise.resolve()
  let pending = 0

  async function post(url: string, event: SimEvent, body: string): Promise<void> {
    const id = randomUUID()
    const at = new Date()
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/simulator',
      'x-github-event': event.name,
      'x-github-delivery': id,
      // The app's webhook has an id of its own on GitHub; the simulator uses the app's.
      'x-github-hook-id': String(state.app.id),
      'x-github-hook-installation-target-id': String(state.app.id),
      'x-github-hook-installation-target-type': 'integration',
      'x-hub-signature': signature('sha1', state.app.webhook_secret, body),
      'x-hub-signature-256': signature('sha256', state.app.webhook_secret, body),
    }
    const record = { id, at, event: event.name, action: event.action, installationId: event.installation.id, url }
    try {
      const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
      // Read to the end so the connection is released.
      await response.arrayBuffer()
      state.deliveries.push({ ...record, status: response.status })
    } catch (error) {
      state.deliveries.push({ ...record, status: null, error: failureOf(error) })
    }
  }

  return {
    send(event) {
      const url = state.app.webhook_url
      if (url === undefined) return
      const body = JSON.stringify(webhookPayload(state, event, options.origin()))
      pending++
      queue = queue.then(() => post(url, event, body)).finally(() => {
        pending--
      })
    },
    async settle() {
      while (pending > 0) await queue
    },
    pending: () => pending,
  }
}
