import { describe, expect, it } from 'vitest'
import { OffsetIndex } from '../../src/storage/offset-index.js'
import { TimeIndex } from '../../src/storage/time-index.js'

function offsetIndex(base: number, entries: Array<[number, number]>): OffsetIndex {
  const index = new OffsetIndex(base)
  for (const [offset, position] of entries) index.append(offset, position)
  return index
}

describe('offset index', () => {
  const index = offsetIndex(1000, [
    [1010, 4100],
    [1025, 8300],
    [1040, 12500],
  ])

  it('finds the last entry at or before an offset, at every boundary', () => {
    expect(index.lookup(1000)).toEqual({ offset: 1000, position: 0 })
    expect(index.lookup(1009)).toEqual({ offset: 1000, position: 0 })
    expect(index.lookup(1010)).toEqual({ offset: 1010, position: 4100 })
    expect(index.lookup(1011)).toEqual({ offset: 1010, position: 4100 })
    expect(index.lookup(1024)).toEqual({ offset: 1010, position: 4100 })
    expect(index.lookup(1025)).toEqual({ offset: 1025, position: 8300 })
    expect(index.lookup(1039)).toEqual({ offset: 1025, position: 8300 })
    expect(index.lookup(1040)).toEqual({ offset: 1040, position: 12500 })
    expect(index.lookup(10 ** 9)).toEqual({ offset: 1040, position: 12500 })
  })

  it('an empty index points at the start of the segment', () => {
    expect(new OffsetIndex(5).lookup(77)).toEqual({ offset: 5, position: 0 })
  })

  it('round-trips through its file form and refuses a damaged file', () => {
    const bytes = index.encode(0, index.entries.length)
    expect(bytes.length).toBe(24)
    const decoded = OffsetIndex.decode(1000, bytes, 20000)
    expect(decoded).toBeInstanceOf(OffsetIndex)
    expect((decoded as OffsetIndex).lookup(1030)).toEqual({ offset: 1025, position: 8300 })
    expect(typeof OffsetIndex.decode(1000, bytes.subarray(0, 20), 20000)).toBe('string') // torn entry
    expect(typeof OffsetIndex.decode(1000, bytes, 9000)).toBe('string') // points past the log
    const swapped = Buffer.concat([bytes.subarray(8, 16), bytes.subarray(0, 8)])
    expect(typeof OffsetIndex.decode(1000, swapped, 20000)).toBe('string') // out of order
  })

  it('drops the entries at or past a position', () => {
    const copy = offsetIndex(1000, [
      [1010, 4100],
      [1025, 8300],
    ])
    copy.entries.truncateFromValue(8300)
    expect(copy.lookup(1030)).toEqual({ offset: 1010, position: 4100 })
  })
})

describe('time index', () => {
  it('names the last offset whose records are all older than a timestamp', () => {
    const index = new TimeIndex(100)
    index.maybeAppend(5000, 109)
    index.maybeAppend(4000, 119) // not larger: ignored
    index.maybeAppend(7000, 129)
    expect(index.entries.length).toBe(2)
    expect(index.offsetBefore(4999)).toBeNull()
    expect(index.offsetBefore(5000)).toBeNull()
    expect(index.offsetBefore(5001)).toBe(109)
    expect(index.offsetBefore(7000)).toBe(109)
    expect(index.offsetBefore(7001)).toBe(129)
    expect(index.maxTimestamp).toBe(7000)
  })

  it('round-trips through its file form', () => {
    const index = new TimeIndex(0)
    index.maybeAppend(1_700_000_000_000, 3)
    index.maybeAppend(1_700_000_000_500, 9)
    const decoded = TimeIndex.decode(0, index.encode(0, 2), 100)
    expect(decoded).toBeInstanceOf(TimeIndex)
    expect((decoded as TimeIndex).offsetBefore(1_700_000_000_600)).toBe(9)
    expect(typeof TimeIndex.decode(0, index.encode(0, 2).subarray(0, 13), 100)).toBe('string')
  })
})
