import { describe, expect, it } from 'vitest'
import { batchCrcValid, decodeRecords, readBatchHeader } from '../../src/record/batch-decoder.js'
import { encodeBatchAt } from '../../src/record/batch-encoder.js'
import type { StoredRecord } from '../../src/record/types.js'

const T0 = 1_700_000_000_000

describe('encodeBatchAt', () => {
  it('keeps the base offset, the last offset delta and each record’s offset and timestamp', () => {
    const { bytes, recordCount } = encodeBatchAt(
      100,
      109,
      [
        { offset: 102, timestamp: T0 + 5, key: Buffer.from('a'), value: null },
        { offset: 107, timestamp: T0 - 3, key: null, value: Buffer.from('v'), headers: [{ key: 'h', value: null }] },
      ],
      1 << 20,
    )
    const header = readBatchHeader(bytes, 0)
    expect(header).toMatchObject({ baseOffset: 100, lastOffsetDelta: 9, recordCount: 2, baseTimestamp: T0 + 5, maxTimestamp: T0 + 5 })
    expect(recordCount).toBe(2)
    expect(batchCrcValid(bytes, 0, header)).toBe(true)
    const out: StoredRecord[] = []
    decodeRecords(bytes, 0, header, 0, out)
    const text = (b: Buffer | null): string | null => (b === null ? null : b.toString())
    expect(out.map((r) => ({ ...r, key: text(r.key), value: text(r.value) }))).toEqual([
      { offset: 102, timestamp: T0 + 5, key: 'a', value: null, headers: [] },
      { offset: 107, timestamp: T0 - 3, key: null, value: 'v', headers: [{ key: 'h', value: null }] },
    ])
    expect(() => encodeBatchAt(100, 105, [{ offset: 106, timestamp: 0, key: null, value: null }], 1 << 20)).toThrow(/offset/)
    expect(() => encodeBatchAt(100, 105, [{ offset: 99, timestamp: 0, key: null, value: null }], 1 << 20)).toThrow(/offset/)
  })
})
