import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { isSpoolError } from '../../src/errors.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { median, percentile } from '../helpers/stats.js'

/**
 * `spool consume --follow` beside a writer in another process, `consume --group` beside
 * an application, and consume in a pipeline: the built CLI, run as a user runs it, in
 * child processes. Latencies are measured and printed, and asserted only loosely: a test
 * must not fail because a shared machine was slow for a moment.
 */

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

function freshDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-follow-cli-'))
  dirs.push(dir)
  return dir
}

const now = (): number => performance.timeOrigin + performance.now()

/** A running `spool` child whose stdout lines are timestamped as they arrive. */
interface Running {
  child: ChildProcess
  lines: Array<{ text: string; at: number }>
  stderr: () => string
  exited: Promise<number | null>
  /** Resolves once `count` lines have arrived (rejects if the child exits first). */
  untilLines: (count: number) => Promise<void>
}

function start(dir: string, args: string[]): Running {
  const child = spawn(process.execPath, [CLI, '--data-dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Array<{ text: string; at: number }> = []
  let stderr = ''
  let buffered = ''
  const waiters: Array<() => void> = []
  child.stdout!.on('data', (chunk: Buffer) => {
    const at = now()
    buffered += chunk.toString()
    const complete = buffered.split('\n')
    buffered = complete.pop()!
    for (const text of complete) lines.push({ text, at })
    for (const wake of waiters.splice(0)) wake()
  })
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const untilLines = async (count: number): Promise<void> => {
    while (lines.length < count) {
      const more = new Promise<void>((resolve) => waiters.push(resolve))
      const ended = await Promise.race([more.then(() => false), exited.then(() => true)])
      if (ended && lines.length < count) throw new Error(`spool exited with ${await exited} after ${lines.length} lines: ${stderr}`)
    }
  }
  return { child, lines, stderr: () => stderr, exited, untilLines }
}

/** Runs the CLI to its end. */
function run(dir: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--data-dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject).on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** `sh -c '(spool … 2>err; echo $? >status) | head -N'`: a real pipe, as a shell makes it. */
async function pipeToHead(dir: string, args: string[], lines: number): Promise<{ head: string; status: number; stderr: string }> {
  const scratch = freshDir()
  const err = path.join(scratch, 'err')
  const status = path.join(scratch, 'status')
  const quoted = [process.execPath, CLI, '--data-dir', dir, ...args].map((word) => `'${word}'`).join(' ')
  const result = await new Promise<string>((resolve, reject) => {
    const sh = spawn('sh', ['-c', `(${quoted} 2>'${err}'; echo $? >'${status}') | head -${lines}`], { stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    sh.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    sh.on('error', reject).on('close', () => resolve(stdout))
  })
  return { head: result, status: Number(fs.readFileSync(status, 'utf8')), stderr: fs.readFileSync(err, 'utf8') }
}

/** A writable open that waits while a `consume --group` holds the lock for a moment. */
async function openWhenFree(dir: string): Promise<Spool> {
  const deadline = Date.now() + 60_000 // a session is short, but a loaded machine is slow
  for (;;) {
    try {
      return await openTestSpool(dir, { cleanerIntervalMs: 0 })
    } catch (error) {
      if (!isSpoolError(error, 'LOCKED') || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
}


describe('spool consume --follow beside a writer in another process (the built CLI)', { timeout: 120_000 }, () => {
  it('prints what the writer appends, in order and across segment rolls, within milliseconds; SIGTERM ends it with status 0', async () => {
    const dir = freshDir()
    const writer = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await writer.createTopic('t', { flush: 'always', segmentBytes: 1024 })
    const producer = writer.producer({ lingerMs: 0 })
    await producer.send({ topic: 't', value: 'before' })
    const reader = start(dir, ['consume', 't', '--follow'])
    await reader.untilLines(1) // started, printed what was there
    const sentAt: number[] = []
    const COUNT = 80
    for (let i = 0; i < COUNT; i++) {
      await producer.send({ topic: 't', value: `live-${i}-${'x'.repeat(40)}` })
      sentAt.push(now())
      await reader.untilLines(i + 2) // one at a time: the delay of each alone
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect((await writer.describeTopic('t')).partitions[0]!.segments).toBeGreaterThan(3)
    reader.child.kill('SIGTERM')
    expect(await reader.exited).toBe(0)
    expect(reader.stderr()).toBe('')
    expect(reader.lines.map((l) => l.text)).toEqual(['before', ...Array.from({ length: COUNT }, (_, i) => `live-${i}-${'x'.repeat(40)}`)])
    const delays = sentAt.map((at, i) => reader.lines[i + 1]!.at - at)
    console.log(`consume --follow (CLI, other process): ack → printed median ${median(delays).toFixed(2)} ms, p99 ${percentile(delays, 0.99).toFixed(2)} ms, max ${Math.max(...delays).toFixed(2)} ms`)
    await writer.close()
  })

  it('with no writer at all, waits (it does not exit) until SIGINT, then exits 0', async () => {
    const dir = freshDir()
    const setup = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await setup.createTopic('t')
    await setup.producer().send({ topic: 't', value: 'only' })
    await setup.close()
    const reader = start(dir, ['consume', 't', '--follow'])
    await reader.untilLines(1)
    const early = await Promise.race([reader.exited, new Promise((resolve) => setTimeout(() => resolve('running'), 1_000))])
    expect(early).toBe('running')
    reader.child.kill('SIGINT')
    expect(await reader.exited).toBe(0)
    expect(reader.stderr()).toBe('')
  })

  it('follows every partition: each in order, all of them', async () => {
    const dir = freshDir()
    const writer = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await writer.createTopic('t', { partitions: 3 })
    const reader = start(dir, ['consume', 't', '--follow', '--format', 'json'])
    await new Promise((resolve) => setTimeout(resolve, 300)) // let it start; what it misses meanwhile it reads at its open
    const producer = writer.producer()
    await Promise.all(Array.from({ length: 60 }, (_, i) => producer.send({ topic: 't', key: `k${i % 7}`, value: `v${i}` })))
    await reader.untilLines(60)
    reader.child.kill('SIGINT')
    expect(await reader.exited).toBe(0)
    const records = reader.lines.map((l) => JSON.parse(l.text) as { partition: number; offset: number; value: string })
    expect(records.map((r) => r.value).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `v${i}`).sort())
    for (const p of [0, 1, 2]) {
      const offsets = records.filter((r) => r.partition === p).map((r) => r.offset)
      expect(offsets).toEqual(offsets.map((_, i) => i))
    }
    await writer.close()
  })
})

describe('consume --group beside other processes (the built CLI)', { timeout: 120_000 }, () => {
  it('while an application holds the directory: NEEDS_OWNER, saying that group consumption needs the owning process', async () => {
    const dir = freshDir()
    const app = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await app.createTopic('t')
    await app.producer().send({ topic: 't', value: 'one' })
    for (const args of [['consume', 't', '--group', 'g'], ['consume', 't', '--group', 'g', '--follow']]) {
      const refused = await run(dir, args)
      expect(refused.code).toBe(1)
      expect(refused.stdout).toBe('')
      expect(refused.stderr).toMatch(/^spool: group consumption needs the owning process; run `spool serve` there .*\[NEEDS_OWNER\]\n$/)
      expect(refused.stderr).toContain(`process ${process.pid}`)
    }
    await app.close()
    expect((await run(dir, ['consume', 't', '--group', 'g'])).stdout).toBe('one\n') // and once it is closed, it works
  })

  it('--follow holds the lock only while it prints and commits: other processes write meanwhile, and it prints and commits what they wrote', async () => {
    const dir = freshDir()
    const setup = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await setup.createTopic('t', { partitions: 2 })
    for (const value of ['a', 'b', 'c']) await setup.producer().send({ topic: 't', value })
    await setup.close()
    const member = start(dir, ['consume', 't', '--group', 'g', '--follow'])
    await member.untilLines(3)
    for (const round of [['d', 'e'], ['f']]) {
      const writer = await openWhenFree(dir) // the lock is free once it has committed
      for (const value of round) await writer.producer().send({ topic: 't', value })
      await writer.close()
    }
    await member.untilLines(6)
    member.child.kill('SIGTERM')
    expect(await member.exited, member.stderr()).toBe(0)
    expect(member.stderr()).toBe('')
    expect(member.lines.map((l) => l.text).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
    const described = JSON.parse((await run(dir, ['--json', 'groups', 'describe', 'g'])).stdout) as { partitions: Array<{ committedOffset: number; records: number }> }
    expect(described.partitions.map((p) => p.records)).toEqual([0, 0])
    expect(described.partitions.reduce((sum, p) => sum + p.committedOffset, 0)).toBe(6)
  })
})

describe('consume in a pipeline (the built CLI)', { timeout: 120_000 }, () => {
  const LINE = (i: number): string => `record-${String(i).padStart(6, '0')}-${'y'.repeat(80)}` // 94 bytes and a newline
  const TOTAL = 20_000

  async function bigTopic(): Promise<string> {
    const dir = freshDir()
    const spool = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await spool.createTopic('big', { flush: 'never' })
    const producer = spool.producer()
    await Promise.all(Array.from({ length: TOTAL }, (_, i) => producer.send({ topic: 'big', value: LINE(i) })))
    await spool.close()
    return dir
  }

  it('`consume big | head -2` ends quietly and at once when head has what it wants', async () => {
    const dir = await bigTopic()
    for (const args of [['consume', 'big'], ['replay', 'big', '--from-offset', '0'], ['consume', 'big', '--follow']]) {
      const piped = await pipeToHead(dir, args, 2)
      expect(piped.head).toBe(`${LINE(0)}\n${LINE(1)}\n`)
      expect(piped.stderr).toBe('') // no EPIPE, no stack trace
      expect([0, 141]).toContain(piped.status) // 141: as `cat` is reported in PIPESTATUS (main.ts)
    }
  })

  it('`consume big --group g1 | head -2` commits only what it wrote to the pipe, and stops at the first write that fails', async () => {
    const dir = await bigTopic()
    const piped = await pipeToHead(dir, ['consume', 'big', '--group', 'g1'], 2)
    expect(piped.head).toBe(`${LINE(0)}\n${LINE(1)}\n`)
    expect(piped.stderr).toBe('')
    expect([0, 141]).toContain(piped.status)
    const described = JSON.parse((await run(dir, ['--json', 'groups', 'describe', 'g1'])).stdout) as { partitions: Array<{ committedOffset: number | null }> }
    const committed = described.partitions[0]!.committedOffset ?? 0
    // What a pipe can have taken before head left: its buffer (64 KiB) and what head read (a few KiB).
    const bound = Math.ceil((64 * 1024 + 64 * 1024) / (LINE(0).length + 1))
    expect(committed).toBeLessThanOrEqual(bound)
    expect(committed).toBeLessThan(TOTAL)
    // The next member starts right after what was committed.
    const next = await run(dir, ['consume', 'big', '--group', 'g1', '--max', '1'])
    expect(next.stdout).toBe(`${LINE(committed)}\n`)
  })
})

describe('--json on consume and replay', { timeout: 120_000 }, () => {
  it('prints one JSON object per record, newline-delimited, with the fields of --format json', async () => {
    const dir = freshDir()
    const spool = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await spool.createTopic('t')
    const producer = spool.producer()
    await producer.send({ topic: 't', key: 'k1', value: '{"total":42}', headers: { src: 'cli' } })
    await producer.send({ topic: 't', key: null, value: Buffer.from([0xff, 0xfe]) })
    await spool.close()
    const expected = (await run(dir, ['consume', 't', '--format', 'json'])).stdout
    const lines = expected.trim().split('\n')
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[0]!)).toMatchObject({ topic: 't', partition: 0, offset: 0, key: 'k1', value: '{"total":42}', headers: { src: 'cli' } })
    expect(JSON.parse(lines[1]!)).toMatchObject({ offset: 1, key: null, value: Buffer.from([0xff, 0xfe]).toString('base64'), valueEncoding: 'base64' })
    for (const args of [
      ['--json', 'consume', 't'],
      ['consume', 't', '--json'],
      ['--json', 'replay', 't', '--from-offset', '0'],
      ['--json', 'consume', 't', '--group', 'g'],
    ]) {
      const result = await run(dir, args)
      expect(result.stderr, args.join(' ')).toBe('')
      expect(result.stdout, args.join(' ')).toBe(expected)
    }
  })
})
