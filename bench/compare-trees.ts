/**
 * `npx tsx bench/compare-trees.ts --base DIR [--head DIR] [--workload W1|P1] [--rounds 5] [--runs 3] [--value-bytes 100] [--flush never]`:
 * W1 (or P1) on two spool source trees, each run in its own fresh process (bench/w1-alone.ts),
 * interleaved: each round runs both trees, the first alternating (base, head; head, base; ...),
 * so that drift on a shared machine falls on both. For a regression check of the working
 * tree against a commit (HEAD, or the last one before a change), without touching the
 * working tree:
 *
 *   git worktree add /tmp/spool-head HEAD && ln -s "$PWD/node_modules" /tmp/spool-head/node_modules
 *   npx tsx bench/compare-trees.ts --base /tmp/spool-head
 *   git worktree remove --force /tmp/spool-head
 *
 * The base tree's bench/append.ts (or producer.ts) and bench/lib/dataset.ts run its own
 * src/, so both trees measure the same workload through their own code.
 *
 * Prints a Markdown table: per tree the median (min–max) over rounds of each process's
 * median records/s and spool/raw, and head ÷ base, per round and of the medians.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { formatInteger, formatPercent, formatSummary } from './lib/format.js'
import { type Summary, summarize } from './lib/stats.js'
import { markdownTable } from './lib/table.js'

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: here },
    workload: { type: 'string', default: 'W1' },
    rounds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    'value-bytes': { type: 'string', default: '100' },
    flush: { type: 'string', default: 'never' },
    records: { type: 'string', default: '1000000' },
  },
  strict: true,
})
if (values.base === undefined) throw new Error('--base DIR is required (a worktree of the commit to compare with)')
const trees = { base: path.resolve(values.base), head: path.resolve(values.head) }

interface Sample {
  recordsPerSec: Summary
  ratio: Summary
}

function runOnce(root: string): Promise<Sample> {
  const args = ['--import', 'tsx', path.join(here, 'bench', 'w1-alone.ts'), '--root', root, '--workload', values.workload, '--runs', values.runs, '--value-bytes', values['value-bytes'], '--flush', values.flush, '--records', values.records]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: here, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`${root}: ${error.message}\n${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Sample)
    })
  })
}

const rounds = Number(values.rounds)
const got: Record<'base' | 'head', Sample[]> = { base: [], head: [] }
for (let round = 0; round < rounds; round++) {
  const order: ('base' | 'head')[] = round % 2 === 0 ? ['base', 'head'] : ['head', 'base']
  for (const tree of order) {
    const sample = await runOnce(trees[tree])
    got[tree].push(sample)
    process.stderr.write(`round ${round + 1}/${rounds} ${tree}: ${formatInteger(sample.recordsPerSec.median)} records/s, spool/raw ${formatPercent(sample.ratio.median)}\n`)
  }
}

const rates = (tree: 'base' | 'head') => got[tree].map((s) => s.recordsPerSec.median)
const ratios = (tree: 'base' | 'head') => got[tree].map((s) => s.ratio.median)
const perRound = rates('head').map((rate, round) => rate / rates('base')[round]!)
const base = summarize(rates('base'))
const head = summarize(rates('head'))
const row = (name: string, tree: 'base' | 'head', rate: Summary) => [name, trees[tree], formatSummary(rate, formatInteger), formatSummary(summarize(ratios(tree)), formatPercent)]
process.stdout.write(
  [
    `${values.workload === 'W1' ? 'W1 append' : 'P1 producer.send'} ${values['value-bytes']} B, flush '${values.flush}', ${formatInteger(Number(values.records))} records: ${rounds} rounds, each tree in a fresh process a round (median of ${values.runs} runs after a warm-up); median (min–max) over rounds.`,
    '',
    markdownTable(['Tree', 'dir', 'records/s', 'spool/raw'], [row('base', 'base', base), row('head', 'head', head)], ['left', 'left', 'right', 'right']),
    '',
    `head ÷ base: ${formatPercent(head.median / base.median)} of the medians; per round ${formatSummary(summarize(perRound), formatPercent)}.`,
    `spool/raw head ÷ base: ${formatPercent(summarize(ratios('head')).median / summarize(ratios('base')).median)}.`,
    '',
    JSON.stringify({ trees, rounds, base: got.base, head: got.head, headOverBase: { ofMedians: head.median / base.median, perRound: summarize(perRound) } }),
    '',
  ].join('\n'),
)
