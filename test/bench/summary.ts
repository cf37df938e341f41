import type { Machine } from './machine.js'
import { describeMachine } from './machine.js'

// The one table `npm run bench` ends with: a row a figure, each measured side by side with its
// baseline in that run where it has one, with its goal and whether it was met, and the machine.
// Markdown, so that it can be pasted into the README as it is.

export interface SummaryRow {
  what: string
  measured: string
  goal: string
  /** Undefined: no goal to meet (the figure is reported). */
  met: boolean | undefined
}

/** The row of a benchmark that did not finish. */
export function failedRow(benchmark: string, error: unknown): SummaryRow {
  const message = error instanceof Error ? error.message : String(error)
  return { what: benchmark, measured: `did not finish: ${message.split('\n')[0]}`, goal: 'runs to the end', met: false }
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

export function summaryTable(rows: readonly SummaryRow[], machine: Machine, run: { started: Date; minutes: number; command: string }): string {
  const verdict = (met: boolean | undefined): string => (met === undefined ? 'n/a' : met ? 'met' : '**missed**')
  return [
    `\`${run.command}\`, ${run.started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${run.minutes.toFixed(1)} min: ${rows.filter((r) => r.met === true).length} goals met, ${rows.filter((r) => r.met === false).length} missed`,
    '',
    `Machine: ${describeMachine(machine)}.`,
    '',
    '| what | measured | goal | |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r.what)} | ${cell(r.measured)} | ${cell(r.goal)} | ${verdict(r.met)} |`),
    '',
  ].join('\n')
}
