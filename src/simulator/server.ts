import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import fastifyFormbody from '@fastify/formbody'
import Fastify, { type FastifyInstance } from 'fastify'
import { apiRoutes } from './api/index.js'
import { controlRoutes } from './controls.js'
import { webhookDelivery, type WebhookDelivery } from './delivery.js'
import { SimState } from './state.js'
import { webRoutes } from './web/index.js'
import type { World } from './world.js'

// The simulated GitHub on one port, laid out like GitHub Enterprise Server: web pages at /,
// the REST API at /api/v3, and test controls at /_sim/. One instance per call: tests build
// their own and close them.

export interface SimulatorOptions {
  world: World
  /** The app's private key (PEM); absent: a key pair is made now and served at /_sim/app-key. */
  privateKey?: string
  /**
   * Instead of making one, a key pair the caller made for this run, served at /_sim/app-key as
   * one made here: making a 2048-bit RSA key costs a quarter of a second of CPU, which a test
   * process starting dozens of simulators pays once.
   */
  madeKeyPair?: { privateKey: string; publicKey: string }
  logLevel?: string
}

export interface AppKeys {
  privateKey: string
  publicKey: string
  /** Whether the key was generated here (and so may be handed out at /_sim/app-key). */
  generated: boolean
}

export interface Simulator {
  app: FastifyInstance
  state: SimState
  keys: AppKeys
  /** Webhook deliveries to the app's webhook URL; `settle()` waits for those under way. */
  delivery: WebhookDelivery
}

function appKeys(privateKey: string | undefined, made: SimulatorOptions['madeKeyPair']): AppKeys {
  if (privateKey !== undefined) {
    return { privateKey, publicKey: createPublicKey(createPrivateKey(privateKey)).export({ type: 'spki', format: 'pem' }).toString(), generated: false }
  }
  if (made !== undefined) return { ...made, generated: true }
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  return { ...pair, generated: true }
}

/** Where the simulator listens, for URLs in webhook payloads; before listen, a placeholder. */
function origin(app: FastifyInstance): string {
  const address = app.server.address()
  return typeof address === 'object' && address !== null ? `http://localhost:${address.port}` : 'http://localhost'
}

declare module 'fastify' {
  interface FastifyInstance {
    sim: { state: SimState; keys: AppKeys; delivery: WebhookDelivery }
  }
}

export async function buildSimulator(options: SimulatorOptions): Promise<Simulator> {
  const state = new SimState(options.world)
  const keys = appKeys(options.privateKey, options.madeKeyPair)
  const app = Fastify({ logger: options.logLevel === undefined || options.logLevel === 'silent' ? false : { level: options.logLevel } })
  const delivery = webhookDelivery(state, { origin: () => origin(app) })
  state.onEvent = (event) => delivery.send(event)
  app.addHook('onClose', () => delivery.settle())
  app.decorate('sim', { state, keys, delivery })
  await app.register(fastifyFormbody)
  await app.register(webRoutes)
  await app.register(apiRoutes, { prefix: '/api/v3' })
  await app.register(controlRoutes, { prefix: '/_sim' })
  return { app, state, keys, delivery }
}
