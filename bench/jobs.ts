/**
 * Every workload the bench runs, by name, as a function of plain JSON input: what a
 * workload process (workload-child.ts) runs, one per process. Each job builds its own
 * dataset from the spec (seeded, so every process builds the same bytes) and imports its
 * workload module only when it runs, so that a process holds only what its workload uses.
 */
import type { AppendFlush } from './append.js'
import type { CompressionConfig } from './compression.js'
import type { CrcConfig } from './crc.js'
import type { FanoutOptions, StabilizationOptions } from './groups.js'
import type { LatencyOptions } from './latency.js'
import type { DatasetSpec } from './lib/dataset.js'
import type { ListenerOptions } from './listener.js'
import type { OpenOptions } from './open.js'
import type { OpenCloseOptions } from './open-close.js'
import type { PeerLatencyOptions, PeerRunOptions } from './peers/peer.js'
import type { RecoveryOptions } from './recovery.js'
import type { Logger } from '../src/storage/logger.js'
import type { PublicReadOptions } from './read-public.js'

type Input<T> = Omit<T, 'logger'>

interface WriteJob {
  spec: DatasetSpec
  flush: AppendFlush
  runs: number
}

/**
 * A partition W1's warm-up wrote and kept, for W2: for W2.read, a spool data directory
 * holding `topic`; for W2.replay, the partition's own directory (no topic).
 */
type ReadJob = Omit<PublicReadOptions, 'logger'>

const dataset = async (spec: DatasetSpec) => (await import('./lib/dataset.js')).makeDataset(spec)

async function peerNamed(name: string) {
  const peer = (await import('./peers/index.js')).PEERS.find((p) => p.name === name)
  if (peer === undefined) throw new Error(`no peer named ${name}`)
  return peer
}

export const JOBS = {
  /** Loads spool and does nothing: the floor under every workload process's peak RSS. */
  idle: async () => {
    await import('../src/client/spool.js')
    return null
  },
  'W1.sendBatch': async (i: WriteJob & { keepWarmupDir: boolean }, logger: Logger) =>
    (await import('./send-batch.js')).sendBatchWorkload(await dataset(i.spec), i.flush, { runs: i.runs, logger, keepWarmupDir: i.keepWarmupDir }),
  'W1.append': async (i: WriteJob & { keepWarmupDir: boolean }, logger: Logger) =>
    (await import('./append.js')).appendWorkload(await dataset(i.spec), i.flush, { runs: i.runs, logger, keepWarmupDir: i.keepWarmupDir }),
  P1: async (i: WriteJob, logger: Logger) => (await import('./producer.js')).producerWorkload(await dataset(i.spec), i.flush, i.runs, logger),
  P2: async (i: { spec: DatasetSpec; sendsPerSender: number; runs: number }, logger: Logger) =>
    (await import('./producer.js')).groupCommitWorkloads(await dataset(i.spec), i.sendsPerSender, i.runs, logger),
  I1: async (i: { spec: DatasetSpec; runs: number }, logger: Logger) => (await import('./idempotence.js')).idempotenceWorkloads(await dataset(i.spec), { runs: i.runs, logger }),
  'W2.read': async (i: ReadJob, logger: Logger) => (await import('./read-public.js')).publicReadWorkload({ ...i, logger }),
  'W2.replay': async (i: Omit<ReadJob, 'topic'>, logger: Logger) => {
    const { segmentLogFiles, totalBytes } = await import('./lib/log-files.js')
    const size = { records: i.records, valueBytes: i.valueBytes, bytes: totalBytes(segmentLogFiles(i.dir)) }
    return (await import('./replay.js')).replayWorkload(i.dir, size, { runs: i.runs, readBytes: i.readBytes, logger })
  },
  compression: async (i: Input<CompressionConfig>, logger: Logger) => (await import('./compression.js')).compressionWorkloads({ ...i, logger }),
  crc: async (i: { config: CrcConfig; batchSizes: { bytes: number; note: string }[] }) => (await import('./crc.js')).crcMicro(i.config, i.batchSizes),
  W3: async (i: Input<LatencyOptions>, logger: Logger) => (await import('./latency.js')).latencyWorkload({ ...i, logger }),
  'W4.stabilize': async (i: Input<StabilizationOptions>, logger: Logger) => (await import('./groups.js')).stabilizationWorkloads({ ...i, logger }),
  'W4.fanout': async (i: Input<FanoutOptions>, logger: Logger) => (await import('./groups.js')).fanoutWorkload({ ...i, logger }),
  W5: async (i: Input<RecoveryOptions>, logger: Logger) => (await import('./recovery.js')).recoveryWorkloads({ ...i, logger }),
  W6: async (i: Input<OpenOptions>, logger: Logger) => (await import('./open.js')).openWorkloads({ ...i, logger }),
  W7: async (i: Input<OpenCloseOptions>, logger: Logger) => (await import('./open-close.js')).openCloseWorkloads({ ...i, logger }),
  W8: async (i: Input<ListenerOptions>, logger: Logger) => (await import('./listener.js')).listenerWorkloads({ ...i, logger }),
  'peer.throughput': async (i: { peer: string; spec: DatasetSpec; options: PeerRunOptions }) => (await peerNamed(i.peer)).throughput(await dataset(i.spec), i.options),
  'peer.latency': async (i: { peer: string; options: PeerLatencyOptions }) => (await (await peerNamed(i.peer)).latency?.(i.options)) ?? [],
}

export type Jobs = typeof JOBS
export type JobName = keyof Jobs
export type JobInput<N extends JobName> = Parameters<Jobs[N]>[0]
export type JobOutput<N extends JobName> = Awaited<ReturnType<Jobs[N]>>
