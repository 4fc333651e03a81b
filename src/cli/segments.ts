import fs from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { SpoolError } from '../errors.js'
import { DEFAULT_MAX_BATCH_BYTES } from '../limits.js'
import type { StoredRecord } from '../record/types.js'
import { nodeIO } from '../storage/io.js'
import { INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, parseSegmentFileName } from '../storage/paths.js'
import { type BatchReport, type LogReport, inspectIndex, inspectLog } from '../storage/segment-inspector.js'
import { parsePartitionDir } from '../topics/catalog.js'
import { Progress } from './progress.js'
import { type CliStreams, type GlobalOptions, base64OrNull, humanBytes, isoTime, showBytes, table, writeJson, writeLine } from './output.js'

/** `spool segments dump|index|verify`: read-only inspection of segment files. */

function baseOffsetOf(file: string): number {
  const parsed = parseSegmentFileName(path.basename(file))
  if (parsed === null) {
    throw new SpoolError('INVALID_ARGUMENT', `${file} is not a segment file (expected <20-digit offset>.log, .index or .timeindex)`, {
      details: { field: 'file' },
    })
  }
  return parsed.baseOffset
}

function requireFile(file: string): void {
  if (!fs.existsSync(file)) throw new SpoolError('INVALID_ARGUMENT', `${file} does not exist`, { details: { field: 'file' } })
}

function logOptions(records: boolean): { records: boolean; maxBatchBytes: number } {
  return { records, maxBatchBytes: DEFAULT_MAX_BATCH_BYTES }
}

function recordJson(record: StoredRecord): unknown {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: base64OrNull(record.key),
    value: base64OrNull(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: base64OrNull(h.value) })),
  }
}

function batchJson(batch: BatchReport): unknown {
  const { header } = batch
  return {
    baseOffset: header.baseOffset,
    lastOffset: batch.lastOffset,
    position: batch.position,
    sizeBytes: header.sizeBytes,
    recordCount: header.recordCount,
    crc: header.crc.toString(16).padStart(8, '0'),
    crcOk: batch.crcOk,
    ok: batch.ok,
    ...(batch.problem === undefined ? {} : { problem: batch.problem }),
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    ...(batch.records === undefined ? {} : { records: batch.records.map(recordJson) }),
  }
}

function printDump(out: CliStreams, file: string, report: LogReport): void {
  const records = report.batches.reduce((sum, b) => sum + b.header.recordCount, 0)
  writeLine(out.stdout, `${file}: ${humanBytes(report.sizeBytes)}, ${report.batches.length} batches, ${records} records`)
  const rows = report.batches.map((b) => [
    String(b.header.baseOffset),
    String(b.lastOffset),
    String(b.position),
    String(b.header.sizeBytes),
    String(b.header.recordCount),
    b.ok ? 'ok' : b.crcOk ? 'BAD offsets' : 'BAD',
    isoTime(b.header.baseTimestamp),
    isoTime(b.header.maxTimestamp),
  ])
  const headers = ['baseOffset', 'lastOffset', 'position', 'size', 'records', 'crc', 'baseTimestamp', 'maxTimestamp']
  const lines = table(headers, rows).split('\n')
  writeLine(out.stdout, lines[0])
  report.batches.forEach((batch, i) => {
    writeLine(out.stdout, lines[i + 1])
    for (const record of batch.records ?? []) {
      const headerText = record.headers.map((h) => `${h.key}=${showBytes(h.value)}`).join(' ')
      writeLine(out.stdout, `    offset ${record.offset}  ${isoTime(record.timestamp)}  key=${showBytes(record.key)}  value=${showBytes(record.value)}${headerText === '' ? '' : `  headers: ${headerText}`}`)
    }
  })
  if (report.unreadable !== null) writeLine(out.stdout, `unreadable from byte ${report.unreadable.position}: ${report.unreadable.why}`)
}

function dumpCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('dump')
    .description('print every batch of a .log file (and with --records every record)')
    .argument('<file.log>', 'a segment log file')
    .option('--records', 'print the records too')
    .action(async (file: string, options: { records?: boolean }) => {
      requireFile(file)
      baseOffsetOf(file)
      const report = await inspectLog(nodeIO, file, logOptions(options.records === true))
      if (globals().json) writeJson(out.stdout, { file, sizeBytes: report.sizeBytes, batches: report.batches.map(batchJson), unreadable: report.unreadable })
      else printDump(out, file, report)
      if (report.batches.some((b) => !b.ok) || report.unreadable !== null) process.exitCode = 1
    })
}

function indexCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('index')
    .description('print the entries of a .index or .timeindex file, each checked against its .log')
    .argument('<file>', 'a segment .index or .timeindex file')
    .action(async (file: string) => {
      requireFile(file)
      const base = baseOffsetOf(file)
      const logFile = file.replace(/\.(index|timeindex)$/, LOG_SUFFIX)
      requireFile(logFile)
      const log = await inspectLog(nodeIO, logFile, logOptions(false))
      const report = await inspectIndex(nodeIO, file, log, base)
      const bad = report.entries.filter((e) => !e.ok).length
      if (globals().json) {
        writeJson(out.stdout, { file, kind: report.kind, problem: report.problem, entries: report.entries })
      } else {
        const valueName = report.kind === 'offset' ? 'position' : 'timestamp'
        writeLine(out.stdout, `${file}: ${report.kind} index, ${report.entries.length} entries, ${bad} bad`)
        if (report.problem !== null) writeLine(out.stdout, `unusable: ${report.problem} (spool rebuilds it from the .log on open)`)
        const show = (value: number): string => (report.kind === 'offset' ? String(value) : `${value} (${isoTime(value)})`)
        const rows = report.entries.map((e) => [String(e.offset), show(e.value), e.ok ? 'ok' : `BAD: ${e.why}`])
        if (rows.length > 0) writeLine(out.stdout, table(['offset', valueName, 'check'], rows))
      }
      if (bad > 0 || report.problem !== null) process.exitCode = 1
    })
}

interface Problem {
  file: string
  position: number
  offset: number | null
  why: string
  /** A torn tail of a partition's last segment: what recovery truncates after a crash. */
  tornTail: boolean
}

/** The partition directories a verify target names: a partition dir, a data dir, or a topic. */
function partitionDirs(target: string | undefined, dataDir: string): string[] {
  const isPartitionDir = (dir: string): boolean => fs.readdirSync(dir).some((name) => name.endsWith(LOG_SUFFIX))
  const partitionsIn = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && parsePartitionDir(e.name) !== null)
      .map((e) => path.join(dir, e.name))
      .sort()
  if (target !== undefined && fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    return isPartitionDir(target) ? [target] : partitionsIn(target)
  }
  if (!fs.existsSync(dataDir)) throw new SpoolError('INVALID_ARGUMENT', `the data directory ${dataDir} does not exist`, { details: { field: 'data-dir' } })
  const all = partitionsIn(dataDir)
  if (target === undefined) return all
  const mine = all.filter((dir) => parsePartitionDir(path.basename(dir))?.topic === target)
  if (mine.length === 0) throw new SpoolError('UNKNOWN_TOPIC', `no partition of topic "${target}" in ${dataDir}`, { details: { topic: target } })
  return mine
}

function segmentLogs(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(LOG_SUFFIX) && parseSegmentFileName(name) !== null)
    .sort()
}

async function verifyPartition(
  dir: string,
  problems: Problem[],
  totals: { segments: number; batches: number; records: number; bytes: number },
  progress: Progress,
): Promise<void> {
  const logs = segmentLogs(dir)
  for (const [i, name] of logs.entries()) {
    progress.update(totals.segments, path.join(path.basename(dir), name))
    const file = path.join(dir, name)
    const base = baseOffsetOf(file)
    const last = i === logs.length - 1
    const nextLog = logs[i + 1]
    const offsetLimit = nextLog === undefined ? Infinity : baseOffsetOf(path.join(dir, nextLog))
    const report = await inspectLog(nodeIO, file, { ...logOptions(false), offsetLimit })
    totals.segments++
    totals.bytes += report.sizeBytes
    for (const [b, batch] of report.batches.entries()) {
      totals.batches++
      totals.records += batch.header.recordCount
      if (!batch.ok) {
        const tail = last && b === report.batches.length - 1 && report.unreadable === null && !batch.crcOk
        problems.push({ file, position: batch.position, offset: batch.header.baseOffset, why: batch.problem ?? 'damaged', tornTail: tail })
      }
    }
    if (report.unreadable !== null) {
      const offset = report.batches.at(-1)?.lastOffset
      problems.push({ file, position: report.unreadable.position, offset: offset === undefined ? base : offset + 1, why: report.unreadable.why, tornTail: last })
    }
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      const indexFile = file.slice(0, -LOG_SUFFIX.length) + suffix
      if (!fs.existsSync(indexFile)) continue // rebuilt from the log on open: not damage to data
      const index = await inspectIndex(nodeIO, indexFile, report, base)
      if (index.problem !== null) problems.push({ file: indexFile, position: 0, offset: null, why: `${index.problem} (rebuilt on open)`, tornTail: false })
      for (const entry of index.entries.filter((e) => !e.ok)) {
        problems.push({ file: indexFile, position: 0, offset: entry.offset, why: entry.why ?? 'bad entry', tornTail: false })
      }
    }
  }
}

function verifyCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('verify')
    .description('check every batch CRC and index entry of a data directory, a partition directory or a topic')
    .argument('[target]', 'a partition directory, a data directory or a topic name (default: the whole --data-dir)')
    .action(async (target: string | undefined) => {
      const { dataDir, json } = globals()
      const dirs = partitionDirs(target, dataDir)
      const problems: Problem[] = []
      const totals = { segments: 0, batches: 0, records: 0, bytes: 0 }
      const progress = new Progress(out.stderr, 'verifying', dirs.reduce((sum, dir) => sum + segmentLogs(dir).length, 0))
      for (const dir of dirs) await verifyPartition(dir, problems, totals, progress)
      progress.done()
      const corrupt = problems.filter((p) => !p.tornTail)
      if (json) {
        writeJson(out.stdout, { ok: corrupt.length === 0, partitions: dirs.length, ...totals, problems })
      } else {
        for (const p of problems) {
          const where = `${p.file}: at byte ${p.position}${p.offset === null ? '' : ` (offset ${p.offset})`}`
          writeLine(out.stdout, `${p.tornTail ? 'torn tail' : 'CORRUPT'}: ${where}: ${p.why}${p.tornTail ? ' — recovery truncates it on the next open' : ''}`)
        }
        const summary = `${dirs.length} partitions, ${totals.segments} segments, ${totals.batches} batches, ${totals.records} records, ${humanBytes(totals.bytes)}`
        writeLine(out.stdout, corrupt.length === 0 ? `verified ${summary}: OK` : `verified ${summary}: ${corrupt.length} CORRUPT`)
      }
      if (corrupt.length > 0) process.exitCode = 1
    })
}

export function segmentsCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('segments')
    .description('inspect segment files (read-only: safe while an application writes)')
    .addCommand(dumpCommand(out, globals))
    .addCommand(indexCommand(out, globals))
    .addCommand(verifyCommand(out, globals))
}
