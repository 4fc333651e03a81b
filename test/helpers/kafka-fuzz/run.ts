import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { type Spool, openSpool } from '../../../src/client/spool.js'
import { MAX_KAFKA_REQUEST_BYTES } from '../../../src/limits.js'
import type { Logger } from '../../../src/storage/logger.js'
import { BatchRegistry } from './batches.js'
import { checkStore, verifyFiles } from './check-store.js'
import { Ledger } from './ledger.js'
import { mutate, splitWrites } from './mutate.js'
import { predictStream } from './predict.js'
import { Random } from './random.js'
import { type FuzzWorld, generateRequest, servedVersions } from './requests.js'
import { type SessionPlan, runSession } from './session.js'
import { produceAndFetch } from './usable.js'

/**
 * One seeded fuzz run against an in-process `spool.listen({ port: 0 })`: many connections,
 * each a stream of valid requests for every API and served version, some mutated, cut
 * into TCP writes at random points; then the invariants of issue 16 — the process never
 * crashes and nothing is left unhandled; every connection gets well-formed responses in
 * request order or is closed (with one log line); the data directory holds what
 * acknowledged produces put there and nothing else; the spool still serves a produce and
 * a fetch; memory is back near where it started.
 */

export interface FuzzOptions {
  seed: number
  /** Connections, run `parallel` at a time. */
  connections: number
  parallel?: number
  /** Frames per connection: 1 to this. */
  maxFrames?: number
  /** How long a connection may take to answer or close (generous: 2 shared cores, fsyncs). */
  sessionTimeoutMs?: number
  /**
   * Frames that follow, on the same connection, one that closes it: 'inert' (the default,
   * as in Kafka, which acts on a connection's requests one at a time) — they must change
   * nothing; 'may-apply' — the listener may have acted on them before it closed (their
   * batches then count as possibly stored, never as acknowledged).
   */
  afterClose?: 'inert' | 'may-apply'
  /** Progress lines (the script prints them). */
  progress?: (line: string) => void
}

export interface MemoryDelta {
  arrayBuffersMiB: number
  rssMiB: number
  heapUsedMiB: number
}

export interface FuzzReport {
  seed: number
  failures: string[]
  stats: {
    connections: number
    frames: number
    mutatedFrames: number
    responses: number
    closedByServer: number
    batchesSent: number
    acknowledged: number
    storedRecords: number
    byApi: Record<string, number>
  }
  memory: MemoryDelta
}

/**
 * Memory growth allowed over a run, after a full GC. The fuzz keeps every batch it made
 * (the final check needs them: ~100 bytes each, so a few MiB for the longest run) and the
 * spool keeps its indexes and caches; a leak of request frames (up to 100 MiB each with
 * the size field at its limit), of connections or of long polls grows far past these.
 */
export const MEMORY_BOUNDS = { arrayBuffersMiB: 64, heapUsedMiB: 128, rssMiB: 384 }

const DATA_TOPICS = [
  { name: 'fuzz-one', partitions: 1, options: { flush: 'always' as const } },
  { name: 'fuzz-three', partitions: 3, options: {} },
]
const SCRATCH_TOPICS = ['zz-scratch-0', 'zz-scratch-1', 'zz-scratch-2', 'zz-scratch-3']
/** Frames shown per failure, and bytes per frame, in hex. */
const SHOWN_FRAME_BYTES = 400

const MiB = 1024 * 1024
/**
 * The clock the generated records are stamped with: fixed, so that a seed makes the same
 * bytes on every run (a replay hits the same frames). In the past: no topic here refuses
 * old records, and nothing deletes them (no retention, cleaner off).
 */
const FIXED_NOW = Date.UTC(2025, 0, 1)

function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
  gc()
}

function memory(): NodeJS.MemoryUsage {
  collectGarbage()
  return process.memoryUsage()
}

/**
 * How long a connection's answers may take. Not a speed check: a hang fails it. Topic
 * changes are serial, and a mutated CreateTopics may ask for thousands of partitions
 * (4,096 took 11 s to create and 7 s to delete here, each a durable directory), so a
 * request queued behind two such changes waits tens of seconds and is still answered.
 */
const SESSION_TIMEOUT_MS = 60_000

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const { seed, connections } = options
  const parallel = options.parallel ?? 4
  const maxFrames = options.maxFrames ?? 24
  const sessionTimeoutMs = options.sessionTimeoutMs ?? SESSION_TIMEOUT_MS
  const afterClose = options.afterClose ?? 'inert'
  const say = options.progress ?? (() => undefined)
  const failures: string[] = []
  const fail = (what: string): void => void failures.push(what)

  const onRejection = (reason: unknown): void => fail(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`)
  const onException = (error: Error): void => fail(`uncaught exception: ${error.stack ?? String(error)}`)
  // A timer past 2^31 - 1 ms (Node fires it after 1 ms), listeners piling up on a signal: bugs the process only warns about.
  const onWarning = (warning: Error): void => {
    if (warning.name !== 'ExperimentalWarning' && warning.name !== 'DeprecationWarning') fail(`process warning: ${warning.name}: ${warning.message}`)
  }
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtExceptionMonitor', onException)
  process.on('warning', onWarning)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-fuzz-'))
  const logLines: string[] = []
  const logger: Logger = { warn: (message) => void logLines.push(message) }
  const random = new Random(seed)
  const batches = new BatchRegistry()
  const ledger = new Ledger(batches)
  const world: FuzzWorld = { dataTopics: DATA_TOPICS, scratchTopics: SCRATCH_TOPICS, batches, now: () => FIXED_NOW }
  const versions = servedVersions()
  const stats: FuzzReport['stats'] = { connections, frames: 0, mutatedFrames: 0, responses: 0, closedByServer: 0, batchesSent: 0, acknowledged: 0, storedRecords: 0, byApi: {} }
  let spool: Spool | null = null
  let memoryDelta: MemoryDelta = { arrayBuffersMiB: 0, rssMiB: 0, heapUsedMiB: 0 }
  try {
    spool = await openSpool({ dir, logger, cleanerIntervalMs: 0, flush: 'never' })
    for (const topic of DATA_TOPICS) await spool.createTopic(topic.name, { partitions: topic.partitions, ...topic.options })
    const { port } = await spool.listen({ host: '127.0.0.1', port: 0 })
    // A first produce and fetch warm up the codecs and caches before the memory baseline.
    await produceAndFetch(port, world, ledger, random.fork())
    const before = memory()

    let next = 0
    let coverage = 0
    const worker = async (): Promise<void> => {
      while (next < connections) {
        const index = next++
        const r = random.fork()
        const clean = r.chance(0.25)
        const count = r.between(1, maxFrames)
        // Most mutated connections get one bad frame, somewhere: the valid ones around it are exercised too.
        const mutatedAt = new Set<number>()
        for (let m = clean ? 0 : r.weighted<number>([[75, 1], [20, 2], [5, count]]); m > 0; m--) mutatedAt.add(r.int(count))
        const frames: Buffer[] = []
        const notes: string[] = []
        const batchIds: number[] = []
        let correlationId = r.between(0, 1000)
        for (let n = 0; n < count; n++) {
          // Half the frames walk the table of served versions in turn: every one is covered early.
          const { api, version } = r.chance(0.5) ? versions[coverage++ % versions.length]! : r.pick(versions)
          const request = generateRequest(r, world, api, version, correlationId++)
          stats.byApi[`${api.name} v${version}`] = (stats.byApi[`${api.name} v${version}`] ?? 0) + 1
          batchIds.push(...request.batchIds)
          if (mutatedAt.has(n)) {
            const mutated = mutate(r, request.frame, frames)
            frames.push(mutated.bytes)
            notes.push(`${api.name} v${version} ${mutated.names.join('+')}`)
            stats.mutatedFrames++
          } else {
            frames.push(request.frame)
            notes.push(`${api.name} v${version}`)
          }
          // Now and then the same frame twice in a row: a retry the broker cannot tell apart.
          if (r.chance(0.03)) {
            frames.push(frames[frames.length - 1]!)
            notes.push('(again)')
          }
        }
        stats.frames += frames.length
        stats.batchesSent += batchIds.length
        const writes = splitWrites(r, frames)
        const plan: SessionPlan = {
          writes,
          batchIds,
          description: notes.join(', '),
          pauses: writes.map(() => r.weighted<number>([[85, 0], [15, 1]])),
        }
        const prediction = predictStream(Buffer.concat(frames), MAX_KAFKA_REQUEST_BYTES)
        for (const expectation of prediction.frames) {
          ledger.noteRequest(expectation, batchIds)
          if (expectation.kind === 'close' && expectation.why.startsWith('DECODER BUG')) fail(report(seed, index, plan, frames, [expectation.why]))
        }
        for (const expectation of prediction.afterClose) ledger.noteRequest(expectation, batchIds, afterClose)
        // Lines logged from here on: an earlier connection from the same (reused) port logged before this one connected.
        const firstLine = logLines.length
        const result = await runSession(port, plan, prediction, ledger, sessionTimeoutMs)
        stats.responses += result.responses
        const lines = logLines.slice(firstLine).filter((line) => line.includes(`127.0.0.1:${result.localPort}:`))
        const problems = [...result.problems]
        if (result.closedByServer) {
          stats.closedByServer++
          if (lines.length !== 1) problems.push(`the listener closed the connection with ${lines.length} log lines, not one: ${JSON.stringify(lines)}`)
        } else if (lines.length > 0) {
          problems.push(`log lines for a connection the client closed: ${JSON.stringify(lines)}`)
        }
        for (const line of lines) if (/undecodable| failed: /.test(line)) problems.push(`the listener failed on a request: ${line}`)
        if (problems.length > 0) fail(report(seed, index, plan, frames, problems))
        if (index % 50 === 49) say(`seed ${seed}: ${index + 1}/${connections} connections, ${stats.frames} frames, ${failures.length} failures`)
      }
    }
    await Promise.all(Array.from({ length: parallel }, worker))

    const after = memory()
    memoryDelta = {
      arrayBuffersMiB: (after.arrayBuffers - before.arrayBuffers) / MiB,
      rssMiB: (after.rss - before.rss) / MiB,
      heapUsedMiB: (after.heapUsed - before.heapUsed) / MiB,
    }
    for (const [name, bound] of Object.entries(MEMORY_BOUNDS) as Array<[keyof MemoryDelta, number]>) {
      if (memoryDelta[name] > bound) fail(`memory: ${name} grew by ${memoryDelta[name].toFixed(1)}, over the bound of ${bound}`)
    }

    // Still usable: a valid produce and fetch on a new connection to the same listener.
    try {
      await produceAndFetch(port, world, ledger, random.fork())
    } catch (error) {
      fail(`after the fuzz, a valid produce and fetch failed: ${(error as Error).message}`)
    }
    for (const line of logLines) if (/^produce to .* failed/.test(line) || /kafka listener: (?!closing the connection)/.test(line)) fail(`log: ${line}`)

    await spool.close()
    spool = null
    stats.acknowledged = ledger.acked.length
    for (const problem of await verifyFiles(dir)) fail(`verify: ${problem}`)
    const reopenLines: string[] = []
    spool = await openSpool({ dir, logger: { warn: (message) => void reopenLines.push(message) }, cleanerIntervalMs: 0 })
    for (const line of reopenLines) fail(`reopening after a clean close warned: ${line}`)
    const stored = await checkStore(spool, batches, ledger, DATA_TOPICS)
    stats.storedRecords = stored.records
    for (const problem of stored.problems) fail(`stored data (seed ${seed}): ${problem}`)
  } finally {
    await spool?.close().catch((error: unknown) => fail(`close: ${(error as Error).message}`))
    // Let late rejections surface while the handlers listen.
    await new Promise((resolve) => setTimeout(resolve, 10))
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtExceptionMonitor', onException)
    process.off('warning', onWarning)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { seed, failures, stats, memory: memoryDelta }
}

function report(seed: number, index: number, plan: SessionPlan, frames: readonly Buffer[], problems: readonly string[]): string {
  const shown = frames.map((frame, i) => `    frame ${i} (${frame.length} bytes): ${frame.subarray(0, SHOWN_FRAME_BYTES).toString('hex')}${frame.length > SHOWN_FRAME_BYTES ? '…' : ''}`)
  return [
    `seed ${seed}, connection ${index}: ${problems.join('; ')}`,
    `  frames: ${plan.description}`,
    `  writes: ${plan.writes.map((w) => w.length).join('+')} bytes`,
    ...shown,
  ].join('\n')
}
