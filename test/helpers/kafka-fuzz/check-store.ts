import path from 'node:path'
import { partitionDirs, segmentLogs } from '../../../src/cli/partition-dirs.js'
import type { Spool } from '../../../src/client/spool.js'
import { DEFAULT_MAX_BATCH_BYTES } from '../../../src/limits.js'
import { nodeIO } from '../../../src/storage/io.js'
import { parseSegmentFileName } from '../../../src/storage/paths.js'
import { inspectLog } from '../../../src/storage/segment-inspector.js'
import { BatchRegistry } from './batches.js'
import type { Ledger } from './ledger.js'

/** Problems reported at most, so a broken run still prints a readable report. */
const MAX_PROBLEMS = 40

/**
 * `spool segments verify`, on a closed data directory: every batch of every segment
 * intact (CRC, header, offsets in order, records decodable), nothing unreadable between
 * or after them.
 */
export async function verifyFiles(dir: string): Promise<string[]> {
  const problems: string[] = []
  for (const partitionDir of partitionDirs(undefined, dir)) {
    const logs = segmentLogs(partitionDir)
    for (const [i, name] of logs.entries()) {
      const next = logs[i + 1]
      const offsetLimit = next === undefined ? Infinity : (parseSegmentFileName(next)?.baseOffset ?? Infinity)
      const file = path.join(partitionDir, name)
      const report = await inspectLog(nodeIO, file, { maxBatchBytes: DEFAULT_MAX_BATCH_BYTES, checkRecords: true, offsetLimit })
      for (const batch of report.batches) if (!batch.ok) problems.push(`${file}: batch at byte ${batch.position}: ${batch.problem ?? 'damaged'}`)
      for (const stretch of report.skipped) problems.push(`${file}: bytes ${stretch.position}..${stretch.end - 1}: ${stretch.why}`)
      if (report.unreadable !== null) problems.push(`${file}: unreadable from byte ${report.unreadable.position}: ${report.unreadable.why}`)
    }
  }
  return problems.slice(0, MAX_PROBLEMS)
}

/**
 * The data directory holds what the acknowledged produces put there and nothing else:
 * read back through spool.read, every record is one of a batch some decodable request
 * carried to that very partition, whole, in order, byte for byte; every acknowledged
 * batch is at the offset its acknowledgement gave; topics are the data topics plus only
 * those a CreateTopics named, with the partitions they had unless a CreatePartitions
 * named them.
 */
export async function checkStore(spool: Spool, batches: BatchRegistry, ledger: Ledger, dataTopics: ReadonlyArray<{ name: string; partitions: number }>): Promise<{ problems: string[]; records: number }> {
  const problems: string[] = []
  const say = (problem: string): void => void (problems.length < MAX_PROBLEMS && problems.push(problem))
  const topics = spool.listTopics()
  const dataNames = new Set(dataTopics.map((topic) => topic.name))
  for (const { name, partitions } of dataTopics) {
    if (!topics.includes(name)) {
      if (!ledger.mayDelete.has(name)) say(`data topic ${name} is gone, and no DeleteTopics named it`)
      continue
    }
    const now = (await spool.describeTopic(name)).partitions.length
    if (now !== partitions && !ledger.mayGrow.has(name)) say(`data topic ${name} has ${now} partitions, had ${partitions}, and no CreatePartitions named it`)
  }
  for (const name of topics) if (!dataNames.has(name) && !ledger.mayCreate.has(name)) say(`topic ${JSON.stringify(name)} exists, and no CreateTopics named it`)

  /** Where each batch was found: "topic/partition/id" → base offsets. */
  const found = new Map<string, number[]>()
  /** Batches already reported as stored where they should not be: one line per batch, not per record. */
  const reported = new Set<string>()
  let records = 0
  for (const topic of topics) {
    const partitions = (await spool.describeTopic(topic)).partitions.length
    for (let partition = 0; partition < partitions; partition++) {
      /** The batch being read: id, next index expected, its base offset. */
      let open: { id: number; next: number; base: number } | null = null
      for await (const record of spool.read(topic, { partition })) {
        records++
        const where = `${topic}/${partition}@${record.offset}`
        const mark = BatchRegistry.parseValue(record.value)
        const batch = mark === null ? undefined : batches.get(mark.id)
        if (mark === null || batch === undefined) {
          say(`${where}: a record no request of the fuzz carried (value ${record.value?.subarray(0, 24).toString('hex') ?? 'null'})`)
          continue
        }
        if (!ledger.isCandidate(topic, partition, mark.id) && !reported.has(`${topic}/${partition}/${mark.id}`)) {
          reported.add(`${topic}/${partition}/${mark.id}`)
          say(
            ledger.onlyAfterClose(topic, partition, mark.id)
              ? `${where}: batch ${mark.id} (record ${mark.index}), which only a Produce after a frame that closed its connection carried: the listener acted on a request past the one it closed the connection for`
              : `${where}: batch ${mark.id} (record ${mark.index}), which no decodable request carried to this partition`,
          )
        }
        const sent = batch.records[mark.index]
        if (sent === undefined) {
          say(`${where}: names record ${mark.index} of batch ${mark.id}, which has ${batch.records.length}`)
          continue
        }
        const same =
          equalBytes(record.key, sent.key) &&
          equalBytes(record.value, sent.value) &&
          JSON.stringify(record.headers.map((h) => [h.key, h.value?.toString('hex') ?? null])) ===
            JSON.stringify((sent.headers ?? []).map((h) => [h.key, h.value?.toString('hex') ?? null])) &&
          // Scratch topics may have been created with LogAppendTime.
          (!dataNames.has(topic) || record.timestamp === sent.timestamp)
        if (!same) say(`${where}: record ${mark.index} of batch ${mark.id} differs from what was sent`)
        if (open !== null && (mark.id !== open.id || mark.index !== open.next || record.offset !== open.base + open.next)) {
          say(`${where}: batch ${open.id} stops at record ${open.next} of ${batches.get(open.id)!.records.length}; then record ${mark.index} of batch ${mark.id}`)
          open = null
        }
        if (open === null) {
          if (mark.index !== 0) say(`${where}: batch ${mark.id} starts at its record ${mark.index}`)
          open = { id: mark.id, next: mark.index, base: record.offset - mark.index }
          const key = `${topic}/${partition}/${mark.id}`
          found.set(key, [...(found.get(key) ?? []), open.base])
        }
        open.next++
        if (open.next === batch.records.length) open = null
      }
      if (open !== null) say(`${topic}/${partition}: batch ${open.id} ends after ${open.next} of its ${batches.get(open.id)!.records.length} records`)
    }
  }
  for (const ack of ledger.acked) {
    if (ledger.mayDelete.has(ack.topic)) continue // deleted (and maybe created again) after the acknowledgement
    const at = found.get(`${ack.topic}/${ack.partition}/${ack.batchId}`) ?? []
    if (!at.includes(ack.baseOffset)) say(`batch ${ack.batchId}, acknowledged at ${ack.topic}/${ack.partition}@${ack.baseOffset}, is not there (found at ${at.length === 0 ? 'no offset' : at.join(', ')})`)
  }
  return { problems, records }
}

function equalBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b)
}
