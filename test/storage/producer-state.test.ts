import { describe, expect, it } from 'vitest'
import { SpoolError, type SpoolErrorCode } from '../../src/errors.js'
import {
  MAX_PRODUCERS_PER_PARTITION,
  PRODUCER_BATCHES_RETAINED,
  type ProducerBatch,
  ProducerStateTable,
  type SequenceVerdict,
  lastSequenceOf,
} from '../../src/storage/producer-state.js'
import { type ProducerEntry, encodeProducerSnapshot } from '../../src/storage/producer-state-snapshot.js'
import { Random } from '../sim/random.js'

const INT32_MAX = 2 ** 31 - 1
const PID = 7

function batch(baseSequence: number, records = 1, overrides: Partial<ProducerBatch> = {}): ProducerBatch {
  return { producerId: PID, producerEpoch: 0, baseSequence, recordCount: records, lastOffsetDelta: records - 1, timestamp: 1_000, ...overrides }
}

type Outcome = SequenceVerdict | { kind: 'error'; code: SpoolErrorCode; error: SpoolError }

/** A partition writer over the table: each call is one turn, committed unless `fail`. */
class Writer {
  end = 0
  constructor(readonly table = ProducerStateTable.empty()) {}

  turn(batches: ProducerBatch[], options: { fail?: boolean } = {}): Outcome[] {
    const pending = this.table.startAppend()
    const outcomes: Outcome[] = []
    let end = this.end
    for (const b of batches) {
      let verdict: SequenceVerdict
      try {
        verdict = pending.check(b)
      } catch (error) {
        if (!(error instanceof SpoolError)) throw error
        outcomes.push({ kind: 'error', code: error.code, error })
        continue
      }
      if (verdict.kind === 'append') {
        pending.add(b, end, end + b.lastOffsetDelta)
        outcomes.push(verdict)
        end += b.lastOffsetDelta + 1
      } else {
        outcomes.push(verdict)
      }
    }
    if (!options.fail) {
      pending.commit()
      this.end = end
    }
    return outcomes
  }

  /** Appends one batch, which must be accepted; returns its offsets. */
  append(b: ProducerBatch): { baseOffset: number; lastOffset: number } {
    const baseOffset = this.end
    const [outcome] = this.turn([b])
    expect(outcome).toEqual({ kind: 'append' })
    return { baseOffset, lastOffset: baseOffset + b.lastOffsetDelta }
  }

  one(b: ProducerBatch): Outcome {
    return this.turn([b])[0]!
  }
}

function codeOf(outcome: Outcome): string {
  return outcome.kind === 'error' ? outcome.code : outcome.kind
}

describe('producer state: sequence rules', () => {
  it('never checks nor keeps a batch without a producer id', () => {
    const w = new Writer()
    expect(w.one(batch(5, 1, { producerId: -1, producerEpoch: -1, baseSequence: -1 }))).toEqual({ kind: 'append' })
    expect(w.one(batch(5, 1, { producerId: -1, producerEpoch: -1, baseSequence: -1 }))).toEqual({ kind: 'append' })
    w.table.replay(batch(0, 1, { producerId: -1 }), 0, 0)
    expect(w.table.size).toBe(0)
  })

  it('accepts an unknown producer at any sequence, then only the next one', () => {
    const w = new Writer()
    w.append(batch(1234, 3))
    expect(w.table.entry(PID)?.batches.at(-1)).toMatchObject({ firstSeq: 1234, lastSeq: 1236 })
    w.append(batch(1237, 2))
    const gap = w.one(batch(1240))
    expect(codeOf(gap)).toBe('OUT_OF_ORDER_SEQUENCE')
    const error = (gap as { error: SpoolError }).error
    expect(error.details).toMatchObject({ producerId: PID, expectedSequence: 1239, sequence: 1240 })
    expect(error.message).toContain('missing before sequence 1240')
    expect(error.retriable).toBe(false)
    w.append(batch(1239))
  })

  it('fences an epoch lower than the known one', () => {
    const w = new Writer()
    w.append(batch(0, 1, { producerEpoch: 3 }))
    const fenced = w.one(batch(1, 1, { producerEpoch: 2 }))
    expect(codeOf(fenced)).toBe('PRODUCER_FENCED')
    expect((fenced as { error: SpoolError }).error.details).toMatchObject({ producerEpoch: 2, currentEpoch: 3 })
    expect((fenced as { error: SpoolError }).error.message).toContain('epoch 3')
    // A fenced producer's retry of a batch it wrote is fenced too once the epoch moved on.
    w.append(batch(0, 1, { producerEpoch: 4 }))
    expect(codeOf(w.one(batch(0, 1, { producerEpoch: 3 })))).toBe('PRODUCER_FENCED')
  })

  it('a bumped epoch must start at sequence 0, and forgets the old epoch\'s batches', () => {
    const w = new Writer()
    w.append(batch(0, 5))
    w.append(batch(5, 5))
    expect(codeOf(w.one(batch(10, 1, { producerEpoch: 1 })))).toBe('OUT_OF_ORDER_SEQUENCE')
    expect(codeOf(w.one(batch(3, 1, { producerEpoch: 1 })))).toBe('OUT_OF_ORDER_SEQUENCE')
    const first = w.append(batch(0, 5, { producerEpoch: 1 }))
    expect(w.table.entry(PID)).toEqual({ epoch: 1, batches: [{ firstSeq: 0, lastSeq: 4, firstOffset: first.baseOffset, lastOffset: first.lastOffset, timestamp: 1_000 }] })
    // The same sequences in the new epoch are duplicates of the new batch only.
    expect(w.one(batch(0, 5, { producerEpoch: 1 }))).toEqual({ kind: 'duplicate', ...first })
    w.append(batch(5, 1, { producerEpoch: 1 }))
  })

  it('answers a retry of each of the last 5 batches with its offsets; the 6th oldest is out of order', () => {
    const w = new Writer()
    const written: Array<{ b: ProducerBatch; baseOffset: number; lastOffset: number }> = []
    let seq = 0
    for (let i = 0; i < 8; i++) {
      const b = batch(seq, i + 1)
      written.push({ b, ...w.append(b) })
      seq += i + 1
    }
    expect(w.table.entry(PID)?.batches).toHaveLength(PRODUCER_BATCHES_RETAINED)
    const endBefore = w.end
    for (const { b, baseOffset, lastOffset } of written.slice(-5)) {
      expect(w.one(b)).toEqual({ kind: 'duplicate', baseOffset, lastOffset })
    }
    expect(w.end).toBe(endBefore)
    for (const { b } of written.slice(0, 3)) {
      const outcome = w.one(b)
      expect(codeOf(outcome)).toBe('OUT_OF_ORDER_SEQUENCE')
      expect((outcome as { error: SpoolError }).error.message).toContain('already written')
    }
    // Same first sequence, different last: not a duplicate.
    const last = written.at(-1)!.b
    expect(codeOf(w.one(batch(last.baseSequence, last.recordCount + 1)))).toBe('OUT_OF_ORDER_SEQUENCE')
    expect(codeOf(w.one(batch(last.baseSequence, last.recordCount - 1)))).toBe('OUT_OF_ORDER_SEQUENCE')
  })

  it('wraps sequences past 2^31 - 1 to 0', () => {
    expect(lastSequenceOf(INT32_MAX, 0)).toBe(INT32_MAX)
    expect(lastSequenceOf(INT32_MAX, 1)).toBe(0)
    expect(lastSequenceOf(INT32_MAX - 1, 3)).toBe(1)
    expect(lastSequenceOf(5, 10)).toBe(15)

    const w = new Writer()
    w.append(batch(INT32_MAX - 3, 4)) // ends exactly at 2^31 - 1
    expect(codeOf(w.one(batch(INT32_MAX + 1)))).toBe('INVALID_ARGUMENT') // not a sequence
    expect(codeOf(w.one(batch(1)))).toBe('OUT_OF_ORDER_SEQUENCE')
    const afterWrap = w.append(batch(0, 2))
    w.append(batch(2, 1))
    w.append(batch(3, 1))
    expect(w.one(batch(0, 2))).toEqual({ kind: 'duplicate', ...afterWrap })

    const v = new Writer()
    const across = v.append(batch(INT32_MAX - 1, 4)) // INT32_MAX-1, INT32_MAX, 0, 1
    expect(v.table.entry(PID)?.batches[0]).toMatchObject({ firstSeq: INT32_MAX - 1, lastSeq: 1 })
    expect(v.one(batch(INT32_MAX - 1, 4))).toEqual({ kind: 'duplicate', ...across })
    const gap = v.one(batch(3))
    expect((gap as { error: SpoolError }).error.details).toMatchObject({ expectedSequence: 2, sequence: 3 })
    // Behind on the circle (a stale sequence from before the wrap) is not called a gap.
    expect((v.one(batch(INT32_MAX - 10)) as { error: SpoolError }).error.message).toContain('already written')
    v.append(batch(2))
  })

  it('refuses fields a batch header cannot hold', () => {
    const w = new Writer()
    for (const bad of [
      batch(-1),
      batch(0, 1, { producerEpoch: -1 }),
      batch(0, 1, { producerEpoch: 2 ** 15 }),
      batch(0, 1, { lastOffsetDelta: -1 }),
      batch(0, 1, { producerId: 2 ** 53 }),
      batch(0, 1, { timestamp: Number.NaN }),
      batch(1.5),
    ]) {
      expect(codeOf(w.one(bad))).toBe('INVALID_ARGUMENT')
    }
    expect(() => w.table.replay(batch(0), 5, 4)).toThrow(/baseOffset <= lastOffset/)
  })
})

describe('producer state: one writer turn', () => {
  it('sees the batches added to it before, and their offsets', () => {
    const w = new Writer()
    w.append(batch(0, 2))
    const outcomes = w.turn([batch(2, 3), batch(5, 1), batch(2, 3), batch(7), batch(6, 1, { producerId: 8 }), batch(9, 1, { producerId: 8 })])
    expect(outcomes.map(codeOf)).toEqual(['append', 'append', 'duplicate', 'OUT_OF_ORDER_SEQUENCE', 'append', 'OUT_OF_ORDER_SEQUENCE'])
    expect(outcomes[2]).toEqual({ kind: 'duplicate', baseOffset: 2, lastOffset: 4 })
    expect(w.table.entry(PID)?.batches.map((b) => [b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset])).toEqual([
      [0, 1, 0, 1],
      [2, 4, 2, 4],
      [5, 5, 5, 5],
    ])
    expect(w.table.entry(8)?.batches).toHaveLength(1)
  })

  it('leaves the table unchanged when never committed', () => {
    const w = new Writer()
    w.append(batch(0, 2))
    const before = w.table.entry(PID)
    const outcomes = w.turn([batch(2, 2), batch(0, 1, { producerEpoch: 1 }), batch(0, 1, { producerId: 99 })], { fail: true })
    expect(outcomes.map(codeOf)).toEqual(['append', 'append', 'append'])
    expect(w.table.entry(PID)).toEqual(before)
    expect(w.table.entry(99)).toBeUndefined()
    expect(w.table.size).toBe(1)
    // The failed turn's batches are retried in the next, and accepted as new.
    expect(w.turn([batch(2, 2), batch(4)]).map(codeOf)).toEqual(['append', 'append'])
  })

  it('replays batches from the log without checking them', () => {
    const table = ProducerStateTable.empty()
    table.replay(batch(10), 0, 0)
    table.replay(batch(50), 1, 1) // a gap: recorded as it is
    table.replay(batch(0, 1, { producerEpoch: 2 }), 2, 2)
    table.replay(batch(9, 1, { producerEpoch: 2 }), 3, 3)
    expect(table.entry(PID)).toMatchObject({ epoch: 2, batches: [{ firstSeq: 0 }, { firstSeq: 9 }] })
    const w = new Writer(table)
    w.end = 4
    expect(w.one(batch(0, 1, { producerEpoch: 2 }))).toEqual({ kind: 'duplicate', baseOffset: 2, lastOffset: 2 })
    w.append(batch(10, 1, { producerEpoch: 2 }))
  })
})

describe('producer state: forgetting', () => {
  it('expires producers silent for the expiration, who are then accepted as unknown', () => {
    const w = new Writer()
    w.append(batch(0, 1, { producerId: 1, timestamp: 1_000 }))
    w.append(batch(0, 1, { producerId: 2, timestamp: 5_000 }))
    w.append(batch(1, 1, { producerId: 1, timestamp: 2_000 })) // the newest batch counts
    w.append(batch(0, 1, { producerId: 3, timestamp: 9_000 }))
    w.table.expire(6_999, 5_000)
    expect(w.table.size).toBe(3)
    w.table.expire(7_000, 5_000) // silent for exactly the expiration: gone (as Kafka's >=)
    expect(w.table.entry(1)).toBeUndefined()
    expect(w.table.size).toBe(2)
    w.table.expire(10_000, 5_000)
    expect([w.table.entry(2), w.table.entry(3)].map((e) => e !== undefined)).toEqual([false, true])
    expect(w.one(batch(77, 1, { producerId: 1 }))).toEqual({ kind: 'append' })
  })

  it('keeps at most MAX_PRODUCERS_PER_PARTITION, forgetting the least recently written', () => {
    const table = ProducerStateTable.empty()
    for (let id = 0; id < MAX_PRODUCERS_PER_PARTITION; id++) table.replay(batch(0, 1, { producerId: id }), id, id)
    expect(table.size).toBe(MAX_PRODUCERS_PER_PARTITION)
    const w = new Writer(table)
    w.end = MAX_PRODUCERS_PER_PARTITION
    w.append(batch(1, 1, { producerId: 0 })) // 0 is now the most recent; 1 is the least
    w.append(batch(0, 1, { producerId: MAX_PRODUCERS_PER_PARTITION }))
    expect(table.size).toBe(MAX_PRODUCERS_PER_PARTITION)
    expect(table.entry(1)).toBeUndefined()
    expect(table.entry(0)).toBeDefined()
    expect(table.entry(2)).toBeDefined()
    // The evicted producer is unknown: any sequence goes (a retry of its batch is written again).
    expect(w.one(batch(0, 1, { producerId: 1 }))).toEqual({ kind: 'append' })
    expect(table.entry(2)).toBeUndefined()
    expect(table.size).toBe(MAX_PRODUCERS_PER_PARTITION)
  })

  it('forgets batches past a truncation of the log, and producers left with none', () => {
    const w = new Writer()
    w.append(batch(0, 2, { producerId: 1 })) // 0..1
    w.append(batch(0, 2, { producerId: 2 })) // 2..3
    w.append(batch(2, 2, { producerId: 1 })) // 4..5
    w.append(batch(0, 1, { producerId: 3, producerEpoch: 1 })) // 6
    w.table.truncateFrom(5)
    expect(w.table.entry(1)?.batches.map((b) => b.firstOffset)).toEqual([0])
    expect(w.table.entry(2)?.batches).toHaveLength(1)
    expect(w.table.entry(3)).toBeUndefined()
    w.end = 4
    w.append(batch(2, 1, { producerId: 1 }))
  })
})

describe('producer state: snapshot', () => {
  function sampleTable(): { w: Writer; retries: Array<[ProducerBatch, { baseOffset: number; lastOffset: number }]> } {
    const w = new Writer()
    const retries: Array<[ProducerBatch, { baseOffset: number; lastOffset: number }]> = []
    for (let i = 0; i < 7; i++) w.append(batch(i * 3, 3, { producerId: 1, timestamp: 1_700_000_000_000 + i }))
    const wrapped = batch(INT32_MAX - 1, 5, { producerId: 2 ** 53 - 1, producerEpoch: 2 ** 15 - 1, timestamp: -1 })
    retries.push([wrapped, w.append(wrapped)])
    const plain = batch(0, 1, { producerId: 0, producerEpoch: 3 })
    retries.push([plain, w.append(plain)])
    w.end = 2 ** 40
    const far = batch(42, 10, { producerId: 5 })
    retries.push([far, w.append(far)])
    return { w, retries }
  }

  it('round-trips every producer, batch and the covered offset, in eviction order', () => {
    const { w, retries } = sampleTable()
    const bytes = w.table.encodeSnapshot(w.end)
    const decoded = ProducerStateTable.decodeSnapshot(bytes)
    expect(decoded).not.toBeNull()
    expect(decoded!.coversUpTo).toBe(w.end)
    for (const id of [0, 1, 5, 2 ** 53 - 1]) expect(decoded!.table.entry(id)).toEqual(w.table.entry(id))
    expect(decoded!.table.size).toBe(w.table.size)
    expect(decoded!.table.encodeSnapshot(w.end).equals(bytes)).toBe(true)
    const again = new Writer(decoded!.table)
    again.end = w.end
    for (const [b, offsets] of retries) expect(again.one(b)).toEqual({ kind: 'duplicate', ...offsets })
    again.append(batch(21, 1, { producerId: 1 }))

    const empty = ProducerStateTable.decodeSnapshot(ProducerStateTable.empty().encodeSnapshot(0))
    expect(empty?.table.size).toBe(0)
    expect(empty?.coversUpTo).toBe(0)
  })

  it('is null, never an exception, for any flipped byte, any truncation, or garbage', () => {
    const { w } = sampleTable()
    const bytes = w.table.encodeSnapshot(w.end)
    for (let at = 0; at < bytes.length; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const damaged = Buffer.from(bytes)
        damaged[at]! ^= mask
        expect(ProducerStateTable.decodeSnapshot(damaged), `byte ${at} ^ ${mask}`).toBeNull()
      }
    }
    for (let length = 0; length < bytes.length; length++) {
      expect(ProducerStateTable.decodeSnapshot(bytes.subarray(0, length)), `truncated to ${length}`).toBeNull()
    }
    expect(ProducerStateTable.decodeSnapshot(Buffer.concat([bytes, Buffer.alloc(1)]))).toBeNull()
    const random = new Random(11)
    for (let i = 0; i < 500; i++) expect(ProducerStateTable.decodeSnapshot(random.bytes(random.int(300)))).toBeNull()
  })

  it('bounds a decoded table as a written one', () => {
    const producers = new Map<number, ProducerEntry>()
    for (let id = 0; id <= MAX_PRODUCERS_PER_PARTITION; id++) {
      producers.set(id, { epoch: 0, batches: [{ firstSeq: 0, lastSeq: 0, firstOffset: id, lastOffset: id, timestamp: 0 }] })
    }
    const decoded = ProducerStateTable.decodeSnapshot(encodeProducerSnapshot(producers, MAX_PRODUCERS_PER_PARTITION + 1))
    expect(decoded?.table.size).toBe(MAX_PRODUCERS_PER_PARTITION)
    expect(decoded?.table.entry(0)).toBeUndefined()
    expect(decoded?.table.entry(MAX_PRODUCERS_PER_PARTITION)).toBeDefined()
  })
})
