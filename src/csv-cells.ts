// CSV for people who open it in a spreadsheet (RFC 4180, CRLF rows). A cell that starts with
// =, +, -, @, a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets:
// recorded names are anyone's to choose, so such a cell gets a leading apostrophe (OWASP's
// advice on CSV injection) and is quoted. Line breaks inside a name stay inside its quotes.

/** The first characters that make a cell a formula (the before-state report's SQL applies the same list). */
export const FORMULA_STARTS: readonly string[] = ['=', '+', '-', '@', '\t', '\r']
const NEEDS_QUOTES = /[",\r\n]/

export type CsvValue = string | number | boolean | Date | null | undefined

export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  const text = value instanceof Date ? value.toISOString() : value
  const safe = FORMULA_STARTS.includes(text.charAt(0)) ? `'${text}` : text
  return NEEDS_QUOTES.test(safe) || safe !== text ? `"${safe.replaceAll('"', '""')}"` : safe
}

export function csvRow(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`
}
