/**
 * The bench's command line and what each mode runs: `--quick` (the suite's smoke run,
 * within about a minute on 2 cores) or the full run, `--runs`, `--peers`, `--out`.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const DEFAULT_OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results', 'latest.json')
const MIN_RUNS = 3

export interface BenchConfig {
  mode: 'full' | 'quick'
  records: number
  batchRecords: number
  keyBytes: number
  valueBytes: number[]
  runs: number
  warmupRuns: number
  readBytes: number
  seed: number
  /** P2: sends each concurrent sender awaits one by one. */
  sendsPerSender: number
  /** W3: the producer's steady rate, for this many seconds a run. */
  latency: { ratePerSec: number; seconds: number }
  /** W4: members joining one group, on a topic of this many partitions. */
  stabilization: { members: number; partitions: number }
  /** W4: groups × members consuming one topic of `records` at once. */
  fanout: { records: number; partitions: number; groups: number; membersPerGroup: number }
  /** W5: the two log sizes whose recovery times are compared, and the bytes past the recovery point at each kill. */
  recovery: { smallBytes: number; largeBytes: number; tailBytes: number }
  /** W6: segments of one topic, over this many partitions, one batch of `recordsPerSegment` each. */
  open: { segments: number; partitions: number; recordsPerSegment: number }
  /** W7: partition counts of the idle topic beside the one a short command writes. */
  openClose: { idlePartitions: number[] }
  /**
   * Peers (bench/peers): which to run (null: all installed), the seconds each may spend
   * on one value size's W1 and W2, and the value sizes they run at (quick: one, so the
   * suite's quick run stays within its minute).
   */
  peers: { only: string[] | null; budgetSeconds: number; valueBytes: number[] }
  /** W1/W2 with each codec on JSON-like values: records for each value size (1 KiB takes a codec seconds a run). */
  compression: { sizes: { valueBytes: number; records: number }[] }
  /** Idempotence on/off: this many of W1's 100-byte records. */
  idempotence: { records: number }
  /** CRC micro-benchmark: input sizes (besides W1's batch sizes), and the seconds and number of samples per implementation. */
  crc: { sizes: number[]; sampleSeconds: number; samples: number }
  /** W8: Produce requests a run at each flush policy, and the records (1 KiB values) fetched a run. */
  listener: { produceRequests: number; fetchRecords: number }
}

/** The producer workloads (P1, P2) use the 100-byte values, as the issue asks. */
export const PRODUCER_VALUE_BYTES = 100
/** W5's writer appends 1 KiB records, as the issue asks. */
export const RECOVERY_VALUE_BYTES = 1024
/** W6's segments hold small records: only how many segments there are matters. */
export const OPEN_VALUE_BYTES = 100
const MiB = 1024 * 1024
const GiB = 1024 * MiB

export function configFrom(argv: string[]): { config: BenchConfig; out: string } {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, runs: { type: 'string' }, peers: { type: 'string' } },
    strict: true,
  })
  const runs = values.runs === undefined ? MIN_RUNS : Number(values.runs)
  if (!Number.isSafeInteger(runs) || runs < MIN_RUNS) throw new Error(`--runs must be an integer of at least ${MIN_RUNS}`)
  const config: BenchConfig = {
    mode: values.quick ? 'quick' : 'full',
    // Quick: 25 batches, each workload in its own process: the quick run's minute goes mostly to process starts and fsyncs.
    records: values.quick ? 25_000 : 1_000_000,
    batchRecords: 1_000,
    keyBytes: 16,
    valueBytes: [100, 1024],
    runs,
    warmupRuns: 1,
    readBytes: 1024 * 1024,
    seed: 0x5eed,
    sendsPerSender: values.quick ? 10 : 200,
    // Quick: 2,500 records a run (p999 is the 3rd slowest), for spool, raw and each peer: the smoke run checks the path, not the tail.
    latency: { ratePerSec: 10_000, seconds: values.quick ? 0.25 : 5 },
    stabilization: { members: 50, partitions: 100 },
    fanout: { records: values.quick ? 50_000 : 1_000_000, partitions: 6, groups: 3, membersPerGroup: 3 },
    // Quick: logs past one and two recovery checkpoints (64 MiB each; W5 needs the small one past the first): the smoke run checks the kill and reopen, not the scaling.
    recovery: values.quick ? { smallBytes: 80 * MiB, largeBytes: 160 * MiB, tailBytes: 8 * MiB } : { smallBytes: 1 * GiB, largeBytes: 4 * GiB, tailBytes: 48 * MiB },
    // Building 10,000 segments takes ~10 s (every append rolls: an fsync and a checkpoint each); quick builds 500.
    open: { segments: values.quick ? 500 : 10_000, partitions: 10, recordsPerSegment: 10 },
    openClose: { idlePartitions: values.quick ? [10, 100] : [10, 1_000] },
    // Full: 5 peers × 2 sizes × 25 s, plus three peers' W3, keeps the whole run within 15 minutes.
    peers: { only: peerList(values.peers), budgetSeconds: values.quick ? 1 : 25, valueBytes: values.quick ? [PRODUCER_VALUE_BYTES] : [100, 1024] },
    // Full: ~120 MiB and ~250 MiB of log; gzip and zstd compress it at 50-150 MB/s.
    compression: {
      sizes: values.quick
        ? [
            { valueBytes: 100, records: 2_000 },
            { valueBytes: 1024, records: 1_000 },
          ]
        : [
            { valueBytes: 100, records: 1_000_000 },
            { valueBytes: 1024, records: 250_000 },
          ],
    },
    idempotence: { records: values.quick ? 5_000 : 1_000_000 },
    crc: { sizes: [100, 1024, 16 * 1024, MiB], sampleSeconds: values.quick ? 0.004 : 0.05, samples: values.quick ? 3 : 7 },
    // Full: 3,000 requests give p99 30 samples above it; 250,000 records are ~260 MB fetched a run.
    listener: values.quick ? { produceRequests: 200, fetchRecords: 20_000 } : { produceRequests: 3_000, fetchRecords: 250_000 },
  }
  const out = path.resolve(values.out ?? process.env['SPOOL_BENCH_OUT'] ?? DEFAULT_OUT)
  return { config, out }
}

/** `--peers redis,sqlite` runs only those; `--peers none` runs none. */
function peerList(value: string | undefined): string[] | null {
  if (value === undefined) return null
  return value === 'none' ? [] : value.split(',').map((name) => name.trim())
}

