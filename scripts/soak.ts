/**
 * The soak (not part of `npm test`): an application's life under random failure, for N
 * minutes. A worker process (scripts/soak/worker.ts) owns the spool, produces, and runs
 * three groups of three members whose handlers crash now and then; this parent SIGKILLs
 * the worker at random moments and starts it again, over and over. At the end it opens
 * the spool itself (one more recovery), drains every group, and checks that:
 *   - every acknowledged record reads back unchanged at its offset (nothing lost or renumbered);
 *   - every group processed every acknowledged record at least once;
 *   - no group's committed offset ever went backwards.
 *
 *   npx tsx scripts/soak.ts [--minutes 10] [--seed 1] [--dir /tmp/spool-soak]
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { Command } from 'commander'
import { openSpool } from '../src/index.js'
import { randomFraction } from './lib/prng.js'
import { GROUPS, MAX_LIFE_MS, MIN_LIFE_MS, PARTITIONS, TOPIC } from './soak/config.js'

const WORKER = path.join(import.meta.dirname, 'soak/worker.ts')

const options = new Command()
  .option('--minutes <n>', 'how long to run', '10')
  .option('--seed <n>', 'seed of the random kills', '1')
  .option('--dir <path>', 'data directory (default: a new temporary one)')
  .parse()
  .opts<{ minutes: string; seed: string; dir?: string }>()

const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'spool-soak-'))
const seed = Number(options.seed)
const random = randomFraction(seed)
const deadline = Date.now() + Number(options.minutes) * 60_000

const acked = Array.from({ length: PARTITIONS }, () => new Map<number, string>())
const processed = new Map(GROUPS.map((g) => [g, Array.from({ length: PARTITIONS }, () => new Set<number>())]))
const lastCommitted = new Map<string, number>()
const violations: string[] = []
let lives = 0
let memberCrashes = 0

function violation(message: string): void {
  if (violations.length < 20) console.error(`VIOLATION: ${message}`)
  violations.push(message)
}

function sawCommit(group: string, partition: number, offset: number, when: string): void {
  const key = `${group}/${partition}`
  const last = lastCommitted.get(key) ?? 0
  if (offset < last) violation(`${when}: ${group} committed ${offset} on partition ${partition} after ${last}`)
  lastCommitted.set(key, Math.max(last, offset))
}

function onLine(line: string): void {
  const [kind, a, b, c] = line.split(' ')
  if (kind === 'ack') {
    const partition = Number(a)
    const offset = Number(b)
    const before = acked[partition]!.get(offset)
    if (before !== undefined && before !== c) violation(`offset ${offset} of partition ${partition} acknowledged for "${before}" and then "${c}"`)
    acked[partition]!.set(offset, c!)
  } else if (kind === 'did') processed.get(a as (typeof GROUPS)[number])?.[Number(b)]!.add(Number(c))
  else if (kind === 'crash') memberCrashes++
  else if (kind === 'committed') sawCommit(a!, Number(b), Number(c), `life ${lives}`)
}

/** One life of the worker: runs it, SIGKILLs it after `lifeMs`, reads everything it printed. */
function live(lifeMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, String(lives), String(seed * 1_000 + lives)], { stdio: ['ignore', 'pipe', 'inherit'] })
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'open') setTimeout(() => child.kill('SIGKILL'), lifeMs)
      else onLine(line)
    })
    child.on('error', reject)
    child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`worker exited with ${code ?? signal}`))))
  })
}

async function finalCheck(): Promise<{ records: number; processedPerGroup: number[] }> {
  const spool = await openSpool({ dir })
  try {
    const ends = (await spool.describeTopic(TOPIC)).partitions.map((p) => p.endOffset)
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const stored = new Map<number, string>()
      for await (const record of spool.read(TOPIC, { partition })) stored.set(record.offset, record.value!.toString())
      for (const [offset, value] of acked[partition]!) {
        if (stored.get(offset) !== value) violation(`acknowledged record ${partition}:${offset} "${value}" reads back as "${stored.get(offset)}"`)
      }
    }
    const coordinator = await spool.groups.coordinator()
    for (const group of GROUPS) {
      for (const c of await coordinator.fetchOffsets(group)) sawCommit(group, c.partition, c.offset, 'after the last kill')
      const consumer = spool.consumer({ group, topics: [TOPIC] })
      const seen = processed.get(group)!
      const left = () => ends.reduce((sum, end, p) => sum + (seen[p]!.size < end ? 1 : 0), 0)
      const caughtUp = new Promise<void>((resolve) => {
        void consumer.run({
          eachRecord: (record) => {
            seen[record.partition]!.add(record.offset)
            if (left() === 0) resolve()
          },
        })
        if (left() === 0) resolve()
      })
      await caughtUp
      await consumer.close()
      for (let partition = 0; partition < PARTITIONS; partition++) {
        for (const offset of acked[partition]!.keys()) if (!seen[partition]!.has(offset)) violation(`${group} never processed acknowledged record ${partition}:${offset}`)
      }
    }
    return { records: acked.reduce((sum, m) => sum + m.size, 0), processedPerGroup: GROUPS.map((g) => processed.get(g)!.reduce((sum, s) => sum + s.size, 0)) }
  } finally {
    await spool.close()
  }
}

const started = Date.now()
while (Date.now() < deadline) {
  lives++
  await live(MIN_LIFE_MS + Math.floor(random() * (MAX_LIFE_MS - MIN_LIFE_MS)))
}
const { records, processedPerGroup } = await finalCheck()
const minutes = ((Date.now() - started) / 60_000).toFixed(1)
console.log(
  `soak: ${minutes} min, ${lives} worker lives ended by SIGKILL (${lives + 1} recoveries), ${memberCrashes} member crashes, ${records} acknowledged records, ` +
    `processed per group ${GROUPS.map((g, i) => `${g} ${processedPerGroup[i]}`).join(', ')}, ${violations.length} violations (seed ${seed}, dir ${dir})`,
)
if (violations.length > 0) process.exitCode = 1
else fs.rmSync(dir, { recursive: true, force: true })
