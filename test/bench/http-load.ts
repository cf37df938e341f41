import { readFile, writeFile } from 'node:fs/promises'
import autocannon from 'autocannon'

// One autocannon run against a server in a process of its own, and that process's largest
// resident set during the run. Linux keeps a process's peak (VmHWM); writing 5 to its
// clear_refs starts the peak afresh, so what start-up and seeding took does not count.

export interface LoadFigures {
  requests: number
  /** Requests a second over the run. */
  rps: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  non2xx: number
  errors: number
  timeouts: number
  /** Bytes of one answer, as the server sent it. */
  bytesPerResponse: number
  /** The server process's peak resident set during the run. */
  peakRssMb: number
}

export interface LoadOptions {
  url: string
  /** The server's process id, for its memory. */
  pid: number
  connections: number
  seconds: number
  /** Sent round-robin, one a request: as many signed-in browsers as there are. */
  cookies?: string[]
}

async function peakKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN)
}

export async function load(options: LoadOptions): Promise<LoadFigures> {
  await writeFile(`/proc/${options.pid}/clear_refs`, '5')
  let next = 0
  const cookies = options.cookies ?? []
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => (cookies.length === 0 ? request : { ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length]! } }),
      },
    ],
  })
  const rssKb = await peakKb(options.pid)
  const answered = result.requests.total
  return {
    requests: answered,
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerResponse: answered === 0 ? 0 : result.throughput.total / answered,
    peakRssMb: rssKb / 1024,
  }
}
