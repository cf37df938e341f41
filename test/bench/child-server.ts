import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'

// A server in a process of its own, so that the load generator does not share its event loop
// and its memory is its own. The child gets its job as the first IPC message, answers
// { port } once listening (or { error }), and closes when the parent disconnects.

export interface ChildServer {
  url: string
  pid: number
  stop(): Promise<void>
}

export type ChildAnswer = { port: number } | { error: string }

export async function startChildServer(entry: URL, job: unknown): Promise<ChildServer> {
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const exited = once(child, 'exit')
  const answered = once(child, 'message') as Promise<[ChildAnswer]>
  child.send(job as object)
  const [answer] = await Promise.race([answered, exited.then(([code]) => [{ error: `the server process exited with ${String(code)} before listening` }] as [ChildAnswer])])
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.disconnect()
    await exited
  }
  if ('error' in answer) {
    await stop()
    throw new Error(answer.error)
  }
  return { url: `http://127.0.0.1:${answer.port}`, pid: child.pid!, stop }
}

/** The child's side: runs `serve` on the job, answers its port, and runs `close` when the parent lets go. */
export function serveInChild<Job>(serve: (job: Job) => Promise<{ port: number; close: () => Promise<void> }>): void {
  if (process.send === undefined) throw new Error('this file runs as a child process of a benchmark')
  process.once('message', (job: Job) => {
    serve(job).then(
      ({ port, close }) => {
        process.once('disconnect', () => void close().finally(() => process.exit(0)))
        process.send!({ port } satisfies ChildAnswer)
      },
      (error: unknown) => process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies ChildAnswer, () => process.exit(1)),
    )
  })
}
