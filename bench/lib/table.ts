export type Align = 'left' | 'right'

/** A Markdown table, padded so it also reads well as plain text. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((header, c) => Math.max(header.length, ...rows.map((row) => (row[c] ?? '').length)))
  const pad = (cell: string, c: number): string => (align[c] === 'right' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))
  const line = (cells: readonly string[]): string => `| ${widths.map((_, c) => pad(cells[c] ?? '', c)).join(' | ')} |`
  const rule = `|${widths.map((w, c) => (align[c] === 'right' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`
  return [line(headers), rule, ...rows.map(line)].join('\n')
}
