import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import pg from 'pg'

// What a benchmark run ran on: the figures of a shared 2-core machine mean little without its
// load, so the load average is taken at the start and at the end of the run.

export interface Machine {
  cpu: string
  cores: number
  ramGb: number
  node: string
  /** The server's version, once a benchmark has had one. */
  postgres: string | undefined
  loadAtStart: number[]
  loadAtEnd: number[] | undefined
}

export function machineNow(): Machine {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU'
  return { cpu: model, cores: availableParallelism(), ramGb: totalmem() / 2 ** 30, node: process.version, postgres: undefined, loadAtStart: loadavg(), loadAtEnd: undefined }
}

export async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v
  } finally {
    await client.end()
  }
}

export function describeMachine(m: Machine): string {
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ')
  return [
    `${m.cpu}, ${m.cores} cores, ${m.ramGb.toFixed(0)} GiB RAM; Node ${m.node}; Postgres ${m.postgres ?? 'not used'}`,
    `load average (1, 5, 15 min) ${load(m.loadAtStart)} at the start, ${m.loadAtEnd === undefined ? 'unknown' : load(m.loadAtEnd)} at the end`,
  ].join('; ')
}
