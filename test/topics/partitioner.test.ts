import { describe, expect, it } from 'vitest'
import { StickyPartitioner, murmur2, partitionForKey, toPositive } from '../../src/topics/partitioner.js'

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8')

describe("Kafka's default partitioner", () => {
  it("murmur2 gives the hashes of Kafka's own UtilsTest and of the Java implementation", () => {
    // Kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2)
    const kafka: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
      // Java Utils.murmur2 values for the lengths 1..5 (every tail length), as published beside Akka's port
      ['1', -1993445489],
      ['12', 126087238],
      ['123', -267702483],
      ['1234', -1614185708],
      ['12345', -1188365604],
    ]
    for (const [key, hash] of kafka) expect(murmur2(utf8(key)), key).toBe(hash)
  })

  it('makes hashes positive by clearing the sign bit, as Utils.toPositive does', () => {
    expect(toPositive(-973932308)).toBe(-973932308 & 0x7fffffff)
    expect(toPositive(-2147483648)).toBe(0)
    expect(toPositive(479470107)).toBe(479470107)
  })

  it('puts a key on the partition a Kafka producer would: toPositive(murmur2(key)) % partitions', () => {
    // Worked by hand from the hashes above: 21 → 1173551340, foobar → 1357151166, abc → 479470107
    expect(partitionForKey(utf8('21'), 6)).toBe(1173551340 % 6)
    expect(partitionForKey(utf8('foobar'), 6)).toBe(1357151166 % 6)
    expect(partitionForKey(utf8('abc'), 6)).toBe(479470107 % 6)
    expect([partitionForKey(utf8('21'), 6), partitionForKey(utf8('foobar'), 6), partitionForKey(utf8('abc'), 6)]).toEqual([0, 0, 3])
    expect(partitionForKey(utf8('foobar'), 10)).toBe(6)
    expect(partitionForKey(new Uint8Array(0), 3)).toBe(toPositive(murmur2(new Uint8Array(0))) % 3)
  })

  it('sticks keyless records to one partition until the batch is sent, then moves on', () => {
    const sticky = new StickyPartitioner()
    const first = sticky.partition(4)
    expect(sticky.partition(4)).toBe(first)
    const seen = new Set([first])
    for (let i = 0; i < 3; i++) {
      sticky.batchSent(4)
      seen.add(sticky.partition(4))
    }
    expect(seen.size).toBe(4)
  })
})
