/**
 * `spool serve` SIGKILLed while kcat produces with acks=all to a topic with flush 'always'
 * loses no acknowledged record.
 *
 * kcat (librdkafka) reports each delivered message on stderr at verbosity 3 (`-vvv`):
 * `Message delivered to partition P (offset O) on broker B` (kcat.c dr_msg_cb), printed
 * only after the broker's Produce response said the batch is stored; with acks=all spool
 * answers only once the flush policy made it durable. The test feeds kcat records as fast
 * as it takes them, SIGKILLs the server once a few thousand deliveries were reported, lets
 * kcat report whatever answers had already reached it (`-E`: it does not exit when the
 * broker goes away; its undelivered messages time out, message.timeout.ms, and it exits),
 * then reopens the directory with spool and checks:
 * - every acknowledged offset holds the record that was sent there (one producer, one
 *   partition, no retries before the kill, so offset N is the N-th record sent);
 * - what the directory holds is exactly a prefix of what was sent: nothing torn, nothing
 *   invented, nothing out of order, beyond-the-ack records allowed (stored, answer lost).
 * Needs `npm run build` (it runs dist/cli/main.js).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { KCAT_DELIMITERS, kcatInput, kcatProduceArgs, requireKcat } from '../../helpers/kafka-kcat.js'
import { type KeyedRecord, indexOf, keyedRecords } from '../../helpers/kafka-records.js'
import { startServe } from '../../helpers/kafka-server.js'
import { storedRecords } from '../../helpers/kafka-stored.js'
import { openTestSpool } from '../../helpers/open-spool.js'
import { CHILD_SAFETY_TIMEOUT_MS } from '../../helpers/safety-timeout.js'
import { tempDir } from '../../helpers/temp-dir.js'

const CLI = path.join(import.meta.dirname, '../../../dist/cli/main.js')
const TOPIC = 'acked'
/** Deliveries reported before the kill: enough that the kill lands mid-stream, with more in flight. */
const ACKS_BEFORE_KILL = 2_000
/** Records kcat may be fed at most (it is fed only until the kill). */
const MAX_RECORDS = 40_000
const CHUNK_RECORDS = 50
/** A pause between chunks, so that kcat reads (and so polls for reports) all along; pacing only. */
const FEED_PAUSE_MS = 2
/** How long kcat keeps trying to deliver after the server is gone before it reports failure and exits. */
const MESSAGE_TIMEOUT_MS = 3_000
const DELIVERED = /Message delivered to partition (\d+) \(offset (\d+)\)/

describe('spool serve SIGKILLed during a kcat acks=all produce', () => {
  it('loses no acknowledged record (flush always)', async () => {
    expect(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`).toBe(true)
    const dir = tempDir('spool-serve-kill-')
    const setup = await openTestSpool(dir)
    await setup.createTopic(TOPIC, { partitions: 1, flush: 'always' })
    await setup.close()

    const server = await startServe(dir)
    const records: KeyedRecord[] = keyedRecords({ count: MAX_RECORDS, keys: 64, seed: 5, maxValueBytes: 100, avoid: KCAT_DELIMITERS })
    const kcat = spawn(
      requireKcat(),
      [...kcatProduceArgs({ bootstrap: server.bootstrap, topic: TOPIC, partition: 0, acks: 'all', config: [`message.timeout.ms=${MESSAGE_TIMEOUT_MS}`] }), '-vvv', '-E'],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    )
    const safety = setTimeout(() => kcat.kill('SIGKILL'), CHILD_SAFETY_TIMEOUT_MS)
    const kcatExited = new Promise<number | null>((resolve) => kcat.on('exit', (code) => resolve(code)))

    const acked = new Map<number, number>() // offset -> partition
    let killed = false
    let serverKilled!: () => void
    const serverKilledPromise = new Promise<void>((resolve) => (serverKilled = resolve))
    let stderrTail = ''
    let buffered = ''
    kcat.stderr.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        const match = DELIVERED.exec(line)
        if (match === null) {
          stderrTail = `${stderrTail}\n${line}`.slice(-2000)
          continue
        }
        acked.set(Number(match[2]), Number(match[1]))
        if (!killed && acked.size >= ACKS_BEFORE_KILL) {
          killed = true
          server.child.kill('SIGKILL')
          serverKilled()
        }
      }
    })

    // Feed kcat a little at a time until the server is killed (or the records run out, which
    // the assertions report). kcat prints delivery reports only when it polls librdkafka,
    // which it does after each message it reads: input that keeps coming keeps the reports
    // coming; input that stops (stdin open, nothing to read) would hold them back.
    kcat.stdin.on('error', () => {})
    for (let start = 0; start < records.length && !killed; start += CHUNK_RECORDS) {
      const chunk = kcatInput(records.slice(start, start + CHUNK_RECORDS))
      if (!kcat.stdin.write(chunk)) await Promise.race([new Promise((resolve) => kcat.stdin.once('drain', resolve)), serverKilledPromise])
      await new Promise((resolve) => setTimeout(resolve, FEED_PAUSE_MS))
    }
    // The input ran out before enough deliveries were reported (a server that acknowledges
    // nothing, say): end kcat's input, give its last reports a chance, then stop the server
    // anyway, so that the assertions below say what happened rather than the test hanging.
    kcat.stdin.end()
    if (!killed) await Promise.race([serverKilledPromise, kcatExited])
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
    const exit = await server.exited
    await kcatExited
    clearTimeout(safety)

    expect(killed, `kcat reported only ${acked.size} deliveries before it exited; its stderr:${stderrTail}`).toBe(true)
    expect(exit.signal).toBe('SIGKILL')
    expect([...new Set(acked.values())]).toEqual([0])

    const stored = await storedRecords(dir, TOPIC)
    const storedByOffset = new Map(stored.map((record) => [record.offset, record]))
    const lost = [...acked.keys()].filter((offset) => {
      const record = storedByOffset.get(offset)
      return record === undefined || !record.key?.equals(records[offset]!.key) || !record.value?.equals(records[offset]!.value)
    })
    expect(lost.slice(0, 10), `${lost.length} of ${acked.size} acknowledged records missing or different after the kill (stored: ${stored.length})`).toEqual([])
    // What is there is exactly the first stored.length records sent, in order.
    expect(stored.map((r) => r.offset)).toEqual(stored.map((_, i) => i))
    const wrong = stored.filter((r, i) => indexOf(r.value) !== i || !r.value!.equals(records[i]!.value) || !r.key!.equals(records[i]!.key))
    expect(wrong.map((r) => r.offset).slice(0, 10), 'stored records that are not the ones sent at their offset').toEqual([])
    expect(stored.length).toBeGreaterThanOrEqual(Math.max(...acked.keys()) + 1)
  })
})
