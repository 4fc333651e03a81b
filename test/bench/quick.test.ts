import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/temp-dir.js'
import { CHILD_SAFETY_TIMEOUT_MS } from '../helpers/safety-timeout.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const defaultResults = path.join(repoRoot, 'bench', 'results', 'latest.json')

const EXPECTED_WORKLOADS = [
  'W1.sendBatch.100B.never',
  'W1.sendBatch.100B.always',
  'W1.append.100B.never',
  'W1.append.100B.always',
  'P1.producer.100B.never',
  'P1.producer.100B.always',
  'P2.group-commit.1',
  'P2.group-commit.10',
  'P2.group-commit.100',
  'P2.group-commit.1000',
  'W1.sendBatch.1024B.never',
  'W1.sendBatch.1024B.always',
  'W1.append.1024B.never',
  'W1.append.1024B.always',
  'W2.read.100B',
  'W2.replay.100B',
  'W2.read.1024B',
  'W2.replay.1024B',
  'W3.latency.100B',
  'W4.stabilize.initial-50',
  'W4.stabilize.join-51',
  'W4.fanout.3x3',
  'W5.recovery.small',
  'W5.recovery.large',
  'W6.open.clean',
  'W6.open.unclean',
  'W7.open-close.10',
  'W7.open-close.100',
]

/** The public-API summary (issue 17): spool as an application calls it, in report order. */
const EXPECTED_PUBLIC_ROWS = [
  'W1.sendBatch.100B.never',
  'P1.producer.100B.never',
  'W1.sendBatch.100B.always',
  'P1.producer.100B.always',
  'W1.sendBatch.1024B.never',
  'W1.sendBatch.1024B.always',
  'W2.read.100B.first-pass',
  'W2.read.100B',
  'W2.read.1024B.first-pass',
  'W2.read.1024B',
  'W3.latency.100B',
  'W4.fanout.3x3',
]

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function runBench(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join('bench', 'run.ts'), ...args],
      { cwd: repoRoot, env, maxBuffer: 16 * 1024 * 1024, timeout: CHILD_SAFETY_TIMEOUT_MS },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    )
  })
}

function expectPositive(value: unknown, what: string): void {
  expect(typeof value, what).toBe('number')
  expect(Number.isFinite(value as number) && (value as number) > 0, `${what} = ${String(value)}`).toBe(true)
}

function expectSummary(summary: unknown, what: string): void {
  const { median, min, max } = summary as Record<string, unknown>
  for (const [name, value] of Object.entries({ median, min, max })) expectPositive(value, `${what}.${name}`)
  expect(min as number, `${what}: min <= median`).toBeLessThanOrEqual(median as number)
  expect(median as number, `${what}: median <= max`).toBeLessThanOrEqual(max as number)
}

/** The peaks of the process that measured a figure (each workload runs in its own). */
function expectMemory(memory: unknown, what: string): void {
  expect(memory, `${what}.memory`).toBeTypeOf('object')
  const m = memory as Record<string, unknown>
  for (const field of ['maxRssBytes', 'peakArrayBuffersBytes', 'startArrayBuffersBytes']) expectPositive(m[field], `${what}.memory.${field}`)
  expect(m['peakArrayBuffersBytes'] as number, `${what}.memory: peak >= start`).toBeGreaterThanOrEqual(m['startArrayBuffersBytes'] as number)
}

/** Every public row has positive figures, its process's memory and the targets judged. */
function expectPublicRows(rows: Record<string, unknown>[]): void {
  expect(rows.map((r) => r['id'])).toEqual(EXPECTED_PUBLIC_ROWS)
  for (const r of rows) {
    const id = String(r['id'])
    expectPositive((r['spool'] as Record<string, unknown>)['value'], `${id}.spool.value`)
    expectPositive((r['raw'] as Record<string, unknown>)['value'], `${id}.raw.value`)
    if (r['storage'] !== null) expectPositive((r['storage'] as Record<string, unknown>)['value'], `${id}.storage.value`)
    expectMemory(r['memory'], id)
    const checks = r['checks'] as Record<string, unknown>[]
    expect(checks.length, `${id}.checks`).toBeGreaterThan(0)
    for (const c of checks) expect([true, false, null], `${id}: ${String(c['text'])}`).toContain(c['met'])
  }
}

/** A side's `seconds` summary and one positive sample a run. */
function expectSeconds(side: Record<string, unknown>, runs: unknown, what: string): void {
  expectSummary(side['seconds'], `${what}.seconds`)
  const samples = side['samplesSeconds'] as unknown[]
  expect(samples.length, `${what}.samplesSeconds`).toBe(runs)
  samples.forEach((s, i) => expectPositive(s, `${what}.samplesSeconds[${i}]`))
}

/** Percentiles in order on both sides, a sample a run, the rate held, and the ratios. */
function expectLatency(w: Record<string, unknown>, id: string): void {
  for (const field of ['records', 'valueBytes', 'ratePerSec']) expectPositive(w[field], `${id}.${field}`)
  for (const sideName of ['spool', 'raw']) {
    const side = w[sideName] as Record<string, Record<string, number>>
    for (const figure of ['p50', 'p99', 'p999', 'max', 'ratePerSec']) expectSummary(side[figure], `${id}.${sideName}.${figure}`)
    expect(side['p50']!['median']!, `${id}.${sideName}: p50 <= p99`).toBeLessThanOrEqual(side['p99']!['median']!)
    expect(side['p99']!['median']!, `${id}.${sideName}: p99 <= p999`).toBeLessThanOrEqual(side['p999']!['median']!)
    expect((side['samples'] as unknown as unknown[]).length, `${id}.${sideName}.samples`).toBe(w['runs'])
    // The pacer holds the rate it was given (within 10%: a quick run is short).
    expect(side['ratePerSec']!['median']!, `${id}.${sideName}.ratePerSec`).toBeGreaterThan(0.9 * (w['ratePerSec'] as number))
  }
  for (const p of ['p50', 'p99', 'p999']) expectSummary((w['ratio'] as Record<string, unknown>)[p], `${id}.ratio.${p}`)
}

/** A throughput workload: positive figures on both sides, a sample a run, and the ratio. */
function expectThroughput(w: Record<string, unknown>, id: string): void {
  expect(w['kind'], `${id}.kind`).toBe('throughput')
  for (const field of ['records', 'bytes', 'valueBytes']) expectPositive(w[field], `${id}.${field}`)
  for (const sideName of ['spool', 'raw']) {
    const side = w[sideName] as Record<string, unknown>
    for (const figure of ['recordsPerSec', 'mbPerSec']) expectSummary(side[figure], `${id}.${sideName}.${figure}`)
    expectSeconds(side, w['runs'], `${id}.${sideName}`)
  }
  expectSummary(w['ratio'], `${id}.ratio`)
}

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

/** W1/W2 of each codec at each value size, on compressible data: every codec but none shrinks it. */
function expectCompression(compression: Record<string, unknown>): void {
  const implementations = compression['implementations'] as Record<string, unknown>
  expect(Object.keys(implementations)).toEqual(CODECS)
  for (const codec of CODECS) expect(implementations[codec], `implementation of ${codec}`).toMatch(/\S/)
  const results = compression['results'] as Record<string, unknown>[]
  expect(results.map((r) => `${String(r['valueBytes'])}:${String(r['codec'])}`)).toEqual([100, 1024].flatMap((size) => CODECS.map((codec) => `${size}:${codec}`)))
  for (const r of results) {
    const what = `compression ${String(r['valueBytes'])} B ${String(r['codec'])}`
    for (const field of ['records', 'plainBytes', 'diskBytes']) expectPositive(r[field], `${what}.${field}`)
    if (r['codec'] === 'none') expect(r['diskBytes'], `${what}: none stores the batches as they are`).toBe(r['plainBytes'])
    else expect(r['compressionRatio'] as number, `${what}.compressionRatio`).toBeGreaterThan(1.5)
    expectThroughput(r['append'] as Record<string, unknown>, `${what}.append`)
    expectThroughput(r['replay'] as Record<string, unknown>, `${what}.replay`)
    expectSummary(r['appendVsNone'], `${what}.appendVsNone`)
    expectSummary(r['replayVsNone'], `${what}.replayVsNone`)
  }
}

/** Idempotence on and off, through the producer and through PartitionLog.append, each flush policy. */
function expectIdempotence(results: Record<string, unknown>[]): void {
  expect(results.map((r) => r['id'])).toEqual(['I1.producer.100B.never', 'I1.producer.100B.always', 'I1.append.100B.never', 'I1.append.100B.always'])
  for (const r of results) {
    const id = String(r['id'])
    expectMemory(r['memory'], id)
    for (const field of ['records', 'bytes', 'valueBytes']) expectPositive(r[field], `${id}.${field}`)
    for (const sideName of ['on', 'off', 'raw']) {
      const side = r[sideName] as Record<string, unknown>
      expectSummary(side['recordsPerSec'], `${id}.${sideName}.recordsPerSec`)
      expectSeconds(side, r['runs'], `${id}.${sideName}`)
    }
    for (const ratio of ['ratio', 'onVsRaw', 'offVsRaw']) expectSummary(r[ratio], `${id}.${ratio}`)
  }
}

/** CRC-32C and CRC-32 at the sizes asked for, and their share of W1 'never' and W2 at both value sizes. */
function expectCrc(crc: Record<string, unknown>): void {
  const sizes = crc['sizes'] as Record<string, unknown>[]
  const bytes = sizes.map((s) => s['bytes'])
  for (const size of [100, 1024, 16 * 1024, 1024 * 1024]) expect(bytes, 'crc sizes').toContain(size)
  for (const s of sizes) {
    const gbPerSec = s['gbPerSec'] as Record<string, unknown>
    for (const name of ['crc32c', 'crc32']) expectSummary(gbPerSec[name], `crc ${String(s['bytes'])} B ${name}`)
    expectSummary(s['crc32cVsCrc32'], `crc ${String(s['bytes'])} B crc32cVsCrc32`)
  }
  const shares = crc['shares'] as Record<string, unknown>[]
  expect(shares.map((s) => s['workload'])).toEqual(['W1.append.100B.never', 'W1.append.1024B.never', 'W2.replay.100B', 'W2.replay.1024B'])
  for (const s of shares) for (const field of ['mbPerSec', 'batchBytes', 'crc32cShare', 'crc32Share']) expectPositive(s[field], `crc share of ${String(s['workload'])}.${field}`)
}

const PEERS = ['sqlite', 'leveldb', 'hypercore', 'redis', 'nats']

/**
 * Every peer either ran (positive figures, each with its setting) or says in one line why
 * not (CI installs none: scripts/install-peers.sh is not part of the test command).
 */
function expectPeers(reports: Record<string, unknown>[], comparisons: Record<string, unknown>[]): void {
  expect(reports.map((r) => r['peer'])).toEqual(PEERS)
  for (const report of reports) {
    const results = report['results'] as Record<string, unknown>[]
    if (results.length === 0) {
      expect(report['skipped'], `${String(report['peer'])}: no figures and no reason`).toMatch(/\S/)
      continue
    }
    for (const r of results) {
      const id = String(r['id'])
      expect(r['config'], `${id}.config`).toMatch(/\S/)
      expectMemory(r['memory'], id)
      if (r['kind'] === 'peer-latency') for (const p of ['p50', 'p99', 'p999']) expectSummary(r[p], `${id}.${p}`)
      else expectSummary(r['recordsPerSec'], `${id}.recordsPerSec`)
    }
  }
  expect(comparisons.map((c) => c['target'])).toHaveLength(3)
}

describe('npm run bench -- --quick', () => {
  it('exits 0 and writes positive figures for every workload, without touching bench/results/latest.json', async () => {
    const out = path.join(tempDir('spool-bench-test-'), 'results.json')
    const before = fs.existsSync(defaultResults) ? fs.readFileSync(defaultResults) : null

    const run = await runBench(['--quick'], { ...process.env, SPOOL_BENCH_OUT: out })

    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('| Workload')
    const results = JSON.parse(fs.readFileSync(out, 'utf8'))
    expect(results.mode).toBe('quick')
    expect(Number.isNaN(Date.parse(results.date))).toBe(false)
    expect(results.machine.node).toBe(process.version)
    for (const field of ['os', 'cpu']) expect(typeof results.machine[field]).toBe('string')
    expectPositive(results.machine.cpuCount, 'machine.cpuCount')

    const workloads = results.workloads as Record<string, unknown>[]
    expect(workloads.map((w) => w['id'])).toEqual(EXPECTED_WORKLOADS)
    for (const w of workloads) {
      const id = String(w['id'])
      expect(w['runs'] as number, `${id}.runs`).toBeGreaterThanOrEqual(3)
      expectMemory(w['memory'], id)
      if (w['kind'] === 'latency') expectLatency(w, id)
      else if (w['kind'] === 'duration') expectSeconds(w['spool'] as Record<string, unknown>, w['runs'], `${id}.spool`)
      else expectThroughput(w, id)
    }
    expectPublicRows(results.publicApi as Record<string, unknown>[])
    expect(run.stdout).toContain('### Public API')
    expectCompression(results.compression)
    expectIdempotence(results.idempotence)
    expectCrc(results.crc)
    for (const section of ['compression', 'crc', 'listener']) expectMemory(results[section].memory, section)
    expectPositive(results.idleProcess.maxRssBytes, 'idleProcess.maxRssBytes')
    for (const section of ['### Compression', '### Idempotence', '### CRC-32C']) expect(run.stdout).toContain(section)

    expectPeers(results.peers as Record<string, unknown>[], results.peerComparisons as Record<string, unknown>[])

    if (before === null) expect(fs.existsSync(defaultResults)).toBe(false)
    else expect(fs.readFileSync(defaultResults).equals(before)).toBe(true)
  })
})
