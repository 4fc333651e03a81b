/**
 * `npx tsx bench/w1-alone.ts [--root DIR] [--workload W1|P1] [--value-bytes 100] [--flush never] [--records N] [--runs N]`:
 * W1 (or P1, the producer) alone in a fresh process, on the spool source tree at --root
 * (default: this one), through that tree's own bench/append.ts (bench/producer.ts) and
 * bench/lib/dataset.ts: how bench/compare-trees.ts measures the committed code beside the
 * working tree. Prints one JSON line.
 */
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: here },
    workload: { type: 'string', default: 'W1' },
    'value-bytes': { type: 'string', default: '100' },
    flush: { type: 'string', default: 'never' },
    records: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
  },
  strict: true,
})
const root = path.resolve(values.root)
const flush = values.flush as 'never' | 'always'
if (flush !== 'never' && flush !== 'always') throw new Error('--flush must be never or always')
if (values.workload !== 'W1' && values.workload !== 'P1') throw new Error('--workload must be W1 or P1')

// Only interfaces that have not changed between the trees compared: makeDataset(spec),
// appendWorkload(data, flush, options), producerWorkload(data, flush, runs, logger).
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(root, 'bench', file)).href)) as T
const { makeDataset } = await load<typeof import('./lib/dataset.js')>(path.join('lib', 'dataset.ts'))

const data = makeDataset({ records: Number(values.records), batchRecords: 1_000, keyBytes: 16, valueBytes: Number(values['value-bytes']), seed: 0x5eed })
const warnings: string[] = []
const logger = { warn: (m: string) => void warnings.push(m) }
const runs = Number(values.runs)
const result =
  values.workload === 'W1'
    ? (await (await load<typeof import('./append.js')>('append.ts')).appendWorkload(data, flush, { runs, logger, keepWarmupDir: false })).result
    : await (await load<typeof import('./producer.js')>('producer.ts')).producerWorkload(data, flush, runs, logger)
process.stdout.write(
  `${JSON.stringify({ root, id: result.id, records: result.records, bytes: result.bytes, recordsPerSec: result.spool.recordsPerSec, rawRecordsPerSec: result.raw.recordsPerSec, ratio: result.ratio, samplesSeconds: result.spool.samplesSeconds, warnings })}\n`,
)
