import fs from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { SpoolError } from '../errors.js'
import { DEFAULT_MAX_BATCH_BYTES } from '../limits.js'
import type { FlushPolicy } from '../storage/flush-policy.js'
import { nodeIO } from '../storage/io.js'
import { readLogPosition } from '../storage/log-files.js'
import { stderrLogger } from '../storage/logger.js'
import { CLEAN_SHUTDOWN_FILE, INDEX_SUFFIX, LOG_SUFFIX, RECOVERY_CHECKPOINT_FILE, TIME_INDEX_SUFFIX, parseSegmentFileName } from '../storage/paths.js'
import { type QuarantinedRange, describeRange, readQuarantineRecord } from '../storage/quarantine-record.js'
import { type DamageVerdict, judgeDamage } from '../storage/recovery.js'
import { type LogReport, inspectIndex, inspectLog } from '../storage/segment-inspector.js'
import { partitionDirs, segmentLogs, topicConfigOf } from './partition-dirs.js'
import { Progress } from './progress.js'
import { dumpCommand } from './segments-dump.js'
import { repairCommand } from './segments-repair.js'
import { type CliStreams, type GlobalOptions, humanBytes, isoTime, table, writeJson, writeLine } from './output.js'

/**
 * `spool segments dump|index|verify|repair`: inspection of segment files (read-only, safe
 * beside a running application), and the one command that changes them: `repair`, a dry
 * run unless told --execute, which then takes the writer's lock.
 */

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

/**
 * A command line that names the wrong kind of segment file: refused before anything is
 * read (INVALID_ARGUMENT: a usage error, exit 2).
 */
function wrongKind(file: string, expected: string, other: string): SpoolError {
  return new SpoolError('INVALID_ARGUMENT', `${file} is not a ${expected} file; ${other}`, { details: { field: 'file' } })
}

/** `segments dump` reads a segment's .log. */
function checkLogFile(file: string): void {
  if (/\.(index|timeindex)$/.test(file)) throw wrongKind(file, '.log', '`spool segments index` reads index files')
  requireFile(file)
  baseOffsetOf(file)
}

function indexCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('index')
    .description('print the entries of a .index or .timeindex file, each checked against its .log')
    .argument('<file>', 'a segment .index or .timeindex file')
    .action(async (file: string) => {
      if (file.endsWith(LOG_SUFFIX)) throw wrongKind(file, '.index or .timeindex', '`spool segments dump` reads .log files')
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
  /** What recovery makes of it (recovery.ts, judgeDamage). */
  verdict: DamageVerdict
  /** A tail recovery truncates on the next open (a torn tail, or an unflushed one), not corruption. */
  tornTail: boolean
}

/**
 * A damaged `.index` or `.timeindex`: not damage to data (an index is derived from its
 * `.log`, which holds every record), so a warning, never an exit status of 1.
 */
interface IndexWarning {
  file: string
  /** The offset of the bad entry; null when the file as a whole is unusable. */
  offset: number | null
  why: string
  /** What becomes of it, and what to do if anything. */
  action: string
}

/**
 * What spool does about each kind of index damage (segment.ts, log-reader.ts): an index
 * file it cannot use (size, order) is rebuilt from the .log when the segment is loaded; an
 * offset entry that points at the wrong batch is found, and the index rebuilt, by the
 * first read that uses it. A time entry is never checked against the log, so only a
 * rebuild replaces it: deleting the file makes the next load rebuild it.
 */
const INDEX_ACTIONS = {
  unusable: 'spool rebuilds it from the .log when it next loads the segment',
  offsetEntry: 'spool rebuilds this index from the .log at the first read that uses the entry',
  timeEntry: 'lookups by time may answer a later offset until this index is rebuilt: delete the file, and spool rebuilds it from the .log when it next loads the segment',
} as const

/** What recovery would know of a partition directory at its next open (recovery.ts). */
interface PartitionFacts {
  flush: FlushPolicy
  /** The clean-shutdown marker matches the last segment: the open scans nothing. */
  cleanShutdown: boolean
  recoveryPoint: { segmentBase: number; position: number } | null
  sizes: number[]
}

async function partitionFacts(dir: string, logs: string[]): Promise<PartitionFacts> {
  const sizes = logs.map((name) => fs.statSync(path.join(dir, name)).size)
  const bases = logs.map((name) => parseSegmentFileName(name)!.baseOffset)
  const marker = await readLogPosition(nodeIO, path.join(dir, CLEAN_SHUTDOWN_FILE))
  const point = await readLogPosition(nodeIO, path.join(dir, RECOVERY_CHECKPOINT_FILE))
  return {
    flush: (await topicConfigOf(dir))?.flush ?? 'always',
    cleanShutdown: marker !== null && marker.segmentBase === bases.at(-1) && marker.position === sizes.at(-1),
    recoveryPoint: point !== null && bases.includes(point.segmentBase) ? point : null,
    sizes,
  }
}

/** Damage at `position` of segment `i`: corruption, or a tail the next open truncates? */
function verdictOf(facts: PartitionFacts, logs: string[], i: number, position: number, report: LogReport): DamageVerdict {
  const base = parseSegmentFileName(logs[i]!)!.baseOffset
  const point = facts.recoveryPoint
  return judgeDamage({
    flush: facts.flush,
    cleanShutdown: facts.cleanShutdown,
    beforeRecoveryPoint: point !== null && (base < point.segmentBase || (base === point.segmentBase && position < point.position)),
    laterSegmentHoldsData: facts.sizes.slice(i + 1).some((size) => size > 0),
    validDataFollows: report.batches.some((b) => b.ok && b.position > position),
  })
}

async function verifyPartition(
  dir: string,
  problems: Problem[],
  warnings: IndexWarning[],
  totals: { segments: number; batches: number; records: number; bytes: number },
  progress: Progress,
): Promise<void> {
  const logs = segmentLogs(dir)
  const facts = await partitionFacts(dir, logs)
  const damage = (file: string, i: number, position: number, offset: number | null, why: string, report: LogReport): void => {
    const verdict = verdictOf(facts, logs, i, position, report)
    problems.push({ file, position, offset, why, verdict, tornTail: verdict !== 'corrupt' })
  }
  for (const [i, name] of logs.entries()) {
    progress.update(totals.segments, path.join(path.basename(dir), name))
    const file = path.join(dir, name)
    const base = baseOffsetOf(file)
    const nextLog = logs[i + 1]
    const offsetLimit = nextLog === undefined ? Infinity : baseOffsetOf(path.join(dir, nextLog))
    const report = await inspectLog(nodeIO, file, { ...logOptions(false), offsetLimit })
    totals.segments++
    totals.bytes += report.sizeBytes
    const offsetAfter = (position: number): number => {
      const before = report.batches.filter((b) => b.ok && b.position < position).at(-1)
      return before === undefined ? base : before.lastOffset + 1
    }
    for (const batch of report.batches) {
      totals.batches++
      totals.records += batch.header.recordCount
      if (!batch.ok) damage(file, i, batch.position, batch.header.baseOffset, batch.problem ?? 'damaged', report)
    }
    for (const stretch of report.skipped) damage(file, i, stretch.position, offsetAfter(stretch.position), `${stretch.why} (bytes ${stretch.position}..${stretch.end - 1})`, report)
    if (report.unreadable !== null) damage(file, i, report.unreadable.position, offsetAfter(report.unreadable.position), report.unreadable.why, report)
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      const indexFile = file.slice(0, -LOG_SUFFIX.length) + suffix
      if (!fs.existsSync(indexFile)) continue // rebuilt from the log on open: not damage to data
      const index = await inspectIndex(nodeIO, indexFile, report, base)
      if (index.problem !== null) warnings.push({ file: indexFile, offset: null, why: index.problem, action: INDEX_ACTIONS.unusable })
      for (const entry of index.entries.filter((e) => !e.ok)) {
        const action = index.kind === 'offset' ? INDEX_ACTIONS.offsetEntry : INDEX_ACTIONS.timeEntry
        warnings.push({ file: indexFile, offset: entry.offset, why: entry.why ?? 'bad entry', action })
      }
    }
  }
}

const VERDICT_TEXT: Record<DamageVerdict, string> = {
  corrupt: 'CORRUPT',
  'torn-tail': 'torn tail',
  'unflushed-tail': 'unflushed tail',
}

function problemLine(p: Problem): string {
  const where = `${p.file}: at byte ${p.position}${p.offset === null ? '' : ` (offset ${p.offset})`}`
  const after =
    p.verdict === 'torn-tail'
      ? ' — recovery truncates it on the next open'
      : p.verdict === 'unflushed-tail'
        ? ' — written after the last fsync of a topic that does not flush always; recovery truncates it on the next open'
        : ' — `spool segments repair` moves it aside'
  return `${VERDICT_TEXT[p.verdict]}: ${where}: ${p.why}${after}`
}

function warningLine(w: IndexWarning): string {
  return `warning: ${w.file}: ${w.offset === null ? '' : `the entry for offset ${w.offset}: `}${w.why} — ${w.action}`
}

function verifyCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('verify')
    .description('check every batch CRC and index entry of a data directory, a partition directory or a topic')
    .argument('[target]', 'a partition directory, a data directory or a topic name (default: the whole --data-dir)')
    .action(async (target: string | undefined) => {
      const { dataDir, json } = globals()
      const dirs = partitionDirs(target, dataDir)
      const problems: Problem[] = []
      const warnings: IndexWarning[] = []
      const quarantined: Array<QuarantinedRange & { dir: string }> = []
      const totals = { segments: 0, batches: 0, records: 0, bytes: 0 }
      const progress = new Progress(out.stderr, 'verifying', dirs.reduce((sum, dir) => sum + segmentLogs(dir).length, 0))
      for (const dir of dirs) {
        await verifyPartition(dir, problems, warnings, totals, progress)
        for (const range of await readQuarantineRecord(nodeIO, dir, stderrLogger)) quarantined.push({ dir, ...range })
      }
      progress.done()
      const corrupt = problems.filter((p) => !p.tornTail)
      if (json) {
        writeJson(out.stdout, { ok: corrupt.length === 0, partitions: dirs.length, ...totals, problems, warnings, quarantined })
      } else {
        for (const p of problems) writeLine(out.stdout, problemLine(p))
        for (const w of warnings) writeLine(out.stdout, warningLine(w))
        for (const q of quarantined) writeLine(out.stdout, `quarantined: ${q.dir}: ${describeRange(q)}`)
        const summary = `${dirs.length} partitions, ${totals.segments} segments, ${totals.batches} batches, ${totals.records} records, ${humanBytes(totals.bytes)}`
        const warned = warnings.length === 0 ? '' : `, ${warnings.length} index warning${warnings.length === 1 ? '' : 's'}`
        writeLine(out.stdout, corrupt.length === 0 ? `verified ${summary}: OK${warned}` : `verified ${summary}: ${corrupt.length} CORRUPT${warned}`)
      }
      if (corrupt.length > 0) process.exitCode = 1
    })
}

export function segmentsCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('segments')
    .description('inspect segment files (read-only: safe while an application writes), and repair damaged ones')
    .addCommand(dumpCommand(out, globals, checkLogFile))
    .addCommand(indexCommand(out, globals))
    .addCommand(verifyCommand(out, globals))
    .addCommand(repairCommand(out, globals))
}
