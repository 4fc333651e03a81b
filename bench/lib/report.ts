/** The Markdown report of a bench run: the public API first, then every workload, the format's costs, W8 and the peers. */
import path from 'node:path'
import type { ListenerReport } from '../listener.js'
import { type PeerComparison, comparisonTable, peerTable } from '../peers/compare.js'
import type { PeerReport } from '../peers/peer.js'
import { type BenchConfig, RECOVERY_VALUE_BYTES } from './config.js'
import { formatBytes, formatInteger } from './format.js'
import type { MachineInfo } from './machine.js'
import { MEMORY_SAMPLE_MS, type MemoryPeak } from './memory.js'
import type { PublicRow } from './public-api.js'
import { type FormatCosts, type WithMemory, formatCostsReport, listenerTables } from './report-sections.js'
import { durationTable, latencyTable, peerMemoryTable, publicTable, throughputTable } from './report-tables.js'
import type { BenchResult } from './result.js'

export type RunMachine = MachineInfo & { loadAverageAtStart: number[] }

export interface ReportInput {
  config: BenchConfig
  machine: RunMachine
  date: string
  results: readonly BenchResult[]
  publicApi: readonly PublicRow[]
  costs: FormatCosts
  listener: WithMemory<ListenerReport>
  peers: readonly PeerReport[]
  /** A workload process that only loads spool: the floor under every peak RSS. */
  idle: MemoryPeak
  comparisons: readonly PeerComparison[]
  out: string
}

function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}

function publicSection(input: ReportInput): string[] {
  return [
    '### Public API: what an application gets',
    '',
    publicTable(input.publicApi),
    '',
    "W1 = producer.sendBatch of 1,000 records a call, each awaited before the next; concurrent sends (P1) = 1,000 producer.send() awaited together. Storage layer = PartitionLog.append (W1), PartitionLog.read (W2).",
    'W2 = for await (const r of spool.read(topic, { partition: 0 })) adding up r.value.length; first pass = the first read of that process, fresh, page cache warm; warm = median of the measured runs.',
    'Peers: the fastest peer setting of the same run (W1 \'always\': durable settings only). Each row comes from its own process; figures from different rows (storage layer, peers) are medians of other processes,',
    "a row's raw fs is its own process's paired twin (concurrent sends: the storage row's).",
    `Peak RSS = the workload process's maxRSS (runtime, dataset and raw twin included; an idle workload process, spool loaded: ${formatBytes(input.idle.maxRssBytes)}).`,
    `arrayBuffers: sampled every ${MEMORY_SAMPLE_MS} ms from the first measured run on; in brackets, at that run's start (after a full GC: the dataset the process holds).`,
  ]
}

export function report(input: ReportInput): string {
  const { config, machine, results } = input
  const of = <K extends BenchResult['kind']>(kind: K) => results.filter((r): r is Extract<BenchResult, { kind: K }> => r.kind === kind)
  const { latency, stabilization, fanout, recovery, open } = config
  return [
    `## spool benchmark (${config.mode}), ${input.date}`,
    '',
    `${machine.cpu} × ${machine.cpuCount}, ${machine.os}, Node ${machine.node}, temp dir ${machine.tmpdir} (${machine.tmpdirFileSystem ?? 'file system unknown'}); ` +
      `load average ${machine.loadAverageAtStart.join(' ')} at the start, ${machine.loadAverage.join(' ')} at the end`,
    `${formatInteger(config.records)} records a workload (W4 fan-out: ${formatInteger(fanout.records)}), ${formatInteger(config.batchRecords)} a batch, ${config.keyBytes} B keys; ` +
      `${config.runs} runs each after ${config.warmupRuns} untimed warm-up, fresh temp dir each run; figures are median (min–max); MB = 10^6 bytes.`,
    'Each workload (and each peer) ran in a fresh Node process of its own (bench/workload-child.ts), one at a time: first pass = its untimed warm-up run.',
    '',
    ...publicSection(input),
    '',
    '### Every workload',
    '',
    throughputTable(of('throughput')),
    '',
    "raw: W1 'never' = fs.writeSync of the same encoded batches, one chunk per batch; W1 'always' = the same plus fs.fdatasyncSync after each chunk; P1's twin = PartitionLog.append;",
    `W2, W4 = fs.readSync of the same .log files in ${formatBytes(config.readBytes)} chunks (page cache warmed for both sides). spool/raw = raw time / spool time, per paired run.`,
    "W2's rows read what W1's warm-up runs wrote and kept: spool.read the partition of sendBatch's, PartitionLog.read the one of PartitionLog.append's.",
    `W4 fan-out: ${fanout.groups} groups × ${fanout.membersPerGroup} members on one ${fanout.partitions}-partition topic at once; records/s per group (all groups together: ${fanout.groups}×).`,
    '',
    latencyTable(of('latency')),
    '',
    `W3: send → eachRecord at ${formatInteger(latency.ratePerSec)} records/s for ${latency.seconds} s a run (sends on a ~1 ms timer, each stamped just before send());`,
    'raw = fs.writeSync of each record, then fs.readSync by a reader woken by an in-process event, same pacing. p99 spool/raw per paired run.',
    '',
    durationTable(of('duration')),
    '',
    `W4 stabilization: ${stabilization.members} consumers of one group in one process, one topic of ${stabilization.partitions} partitions, cooperative-sticky;`,
    "until every member's assignment() equals the latest rebalance's and the coordinator reports the group stable.",
    `W5, W6 time what a restart takes: openSpool + describeTopic (end offsets) + a read of each partition's newest record. W5: after SIGKILL of a writer of ${RECOVERY_VALUE_BYTES} B values (flush 'never')`,
    `killed once ≥ ${formatBytes(recovery.tailBytes)} lay past the recovery point on disk; each log is built by the warm-up, then a new writer appends and is killed before each run (sizes take turns).`,
    `W6: one topic of ${formatInteger(open.segments)} segments over ${open.partitions} partitions, after a clean close, and with the clean-shutdown markers removed (recovery from the recovery point).`,
    `W7: openSpool + one send to a 2-partition topic + close, beside an idle topic of ${config.openClose.idlePartitions.map(formatInteger).join(' and of ')} partitions (closed cleanly).`,
    '',
    formatCostsReport(config, input.costs),
    '',
    '### W8: the Kafka listener (spool.listen), beside the in-process path and the loopback socket',
    '',
    listenerTables(input.listener),
    '',
    '### Peers, same dataset, same run',
    '',
    peerTable(input.peers),
    '',
    `Each peer runs on its own terms (its setting is named) on a prefix of the same dataset, sized to ${config.peers.budgetSeconds} s of W1+W2 per value size; servers on 127.0.0.1, fresh data dir each run.`,
    '',
    peerMemoryTable(input.peers),
    '',
    "The storage layer (PartitionLog.append, PartitionLog.read) beside every peer, for reference (the public API's comparison is in the first table):",
    '',
    comparisonTable(input.comparisons),
    '',
    `Results: ${displayPath(input.out)}`,
  ].join('\n')
}
