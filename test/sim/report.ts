import type { SeedResult } from './workload.js'

/** The report of a failed seed: what broke, then the trace that led there. */
export function formatFailure(result: SeedResult): string {
  return [
    `seed ${result.seed}: ${result.failures.length} failure(s)`,
    ...result.failures.map((f) => `  ${f.kind}: ${f.message}`),
    '  trace:',
    ...result.trace.map((line) => `    ${line}`),
  ].join('\n')
}

/** Failed seeds grouped by the kind of their first failure, with one example each. */
export function summarizeFailures(failed: readonly SeedResult[]): string[] {
  const byKind = new Map<string, SeedResult[]>()
  for (const result of failed) {
    const kind = result.failures[0]!.kind
    byKind.set(kind, [...(byKind.get(kind) ?? []), result])
  }
  const lines: string[] = []
  for (const [kind, results] of byKind) {
    lines.push(`  ${kind} (${results.length}): seeds ${results.map((r) => r.seed).join(' ')}`)
    lines.push(`    e.g. seed ${results[0]!.seed}: ${results[0]!.failures[0]!.message}`)
  }
  if (failed.length > 0) lines.push('replay one with: npm run sim -- --seed N')
  return lines
}
