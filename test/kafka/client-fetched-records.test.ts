import { describe, expect, it } from 'vitest'
import { decodeFetchedRecords } from '../../src/kafka/client/fetched-records.js'
import { encodeBatch, setBatchBaseOffset, stampCrc } from '../../src/record/batch-encoder.js'
import { ATTRIBUTES_CONTROL, OFFSET_ATTRIBUTES } from '../../src/record/batch-format.js'
import { expectCode } from '../helpers/expect-code.js'

/** A Fetch answer's Records as the client decodes them: skipped heads, partial tails, control batches, damage. */

function batch(baseOffset: number, values: string[]): Buffer {
  const { bytes } = encodeBatch(values.map((v) => ({ key: null, value: Buffer.from(v) })), 5_000, 1 << 20)
  setBatchBaseOffset(bytes, baseOffset)
  stampCrc(bytes)
  return bytes
}

const values = (decoded: ReturnType<typeof decodeFetchedRecords>): string[] => decoded.records.map((r) => `${r.offset}:${r.value!.toString()}`)

describe('decodeFetchedRecords', () => {
  it('skips the records of the first batch below the requested offset, and labels each record', () => {
    const decoded = decodeFetchedRecords(Buffer.concat([batch(10, ['a', 'b', 'c']), batch(13, ['d'])]), 12, 't', 3)
    expect(values(decoded)).toEqual(['12:c', '13:d'])
    expect(decoded.records[0]).toMatchObject({ topic: 't', partition: 3, timestamp: 5_000 })
    expect(decoded).toMatchObject({ nextOffset: 14, partialBytes: 0 })
  })

  it('leaves a partial trailing batch for the next fetch', () => {
    const whole = batch(0, ['a', 'b'])
    const cut = batch(2, ['c', 'd', 'e'])
    for (const keep of [1, 20, cut.length - 1]) {
      const decoded = decodeFetchedRecords(Buffer.concat([whole, cut.subarray(0, keep)]), 0, 't', 0)
      expect(values(decoded)).toEqual(['0:a', '1:b'])
      expect(decoded).toMatchObject({ nextOffset: 2, partialBytes: keep })
    }
    expect(decodeFetchedRecords(cut.subarray(0, 30), 2, 't', 0)).toMatchObject({ records: [], nextOffset: 2, partialBytes: 30 })
    expect(decodeFetchedRecords(null, 7, 't', 0)).toMatchObject({ records: [], nextOffset: 7, partialBytes: 0 })
  })

  it('passes over control batches without delivering them', () => {
    const control = batch(2, ['marker'])
    control.writeInt16BE(control.readInt16BE(OFFSET_ATTRIBUTES) | ATTRIBUTES_CONTROL, OFFSET_ATTRIBUTES)
    stampCrc(control)
    const decoded = decodeFetchedRecords(Buffer.concat([batch(0, ['a', 'b']), control, batch(3, ['c'])]), 0, 't', 0)
    expect(values(decoded)).toEqual(['0:a', '1:b', '3:c'])
    expect(decoded.nextOffset).toBe(4)
  })

  it('refuses a whole batch whose CRC does not match: CORRUPT_BATCH, naming where', async () => {
    const damaged = batch(5, ['x', 'y'])
    damaged[damaged.length - 1]! ^= 0xff
    const error = await expectCode(Promise.resolve().then(() => decodeFetchedRecords(damaged, 5, 't', 1)), 'CORRUPT_BATCH')
    expect(error.message).toBe('the Kafka listener sent a batch whose CRC does not match its bytes for t/1 at offset 5')
  })
})
