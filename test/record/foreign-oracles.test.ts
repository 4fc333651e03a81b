/**
 * The foreign oracles (kafkajs, @platformatic/kafka, kafka-python in child processes) agree with
 * EACH OTHER before anyone trusts them against spool: every library's batches are read back exactly,
 * CRC-valid, by every library that supports the codec; a flipped byte in the CRC-covered region is
 * caught by every decoder; and the libraries' known quirks are pinned so a change shows up here.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { CLI_TEST_TIMEOUT_MS } from '../helpers/run-cli.js'
import {
  batchCodec,
  canRead,
  comparableHeaders,
  probeForeignLibraries,
  type Codec,
  type DecodedBatch,
  type DecodeOutcome,
  type EncodeOutcome,
  type EncodeRequest,
  type ForeignLibrary,
  type ForeignRecordInput,
} from '../helpers/foreign-batches.js'

// Each case runs other processes (node, python): a safety limit, not a speed check.
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS })

const { available: libs, unavailable } = await probeForeignLibraries()
for (const u of unavailable) console.warn(`foreign oracle ${u.name} unavailable: ${u.reason}`)
const byName = (name: string): ForeignLibrary | undefined => libs.find(l => l.name === name)

const T0 = 1_700_000_000_000
const text = (s: string): Buffer => Buffer.from(s, 'utf8')

function pseudoRandom(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Records every library can encode (kafkajs: no null header values, header order it can express). */
function sampleRecords(): ForeignRecordInput[] {
  return [
    { key: null, value: text('hello hello hello hello hello hello'), timestamp: T0 },
    {
      key: text('k1'),
      value: Buffer.alloc(0),
      headers: [
        { key: 'trace', value: text('abc') },
        { key: 'trace', value: Buffer.alloc(0) },
        { key: 'ünï-кей-🔑', value: text('värde') },
      ],
      timestamp: T0 + 1,
    },
    { key: Buffer.alloc(0), value: null, timestamp: T0 + 1 },
    { key: text('k3'), value: pseudoRandom(300, 7), headers: [{ key: 'bin', value: pseudoRandom(20, 9) }], timestamp: T0 + 1000 },
    { key: text('k4'), value: Buffer.alloc(10_000, 'spool '), timestamp: T0 + 100 }, // earlier than the previous one
  ]
}

function thousandRecords(): ForeignRecordInput[] {
  return Array.from({ length: 1000 }, (_, i) => ({
    key: i % 50 === 0 ? null : text(`key-${i}`),
    value: text(`value-${i} `.repeat(1 + (i % 7))),
    headers: i % 10 === 0 ? [{ key: 'n', value: text(String(i)) }] : [],
    timestamp: T0 + 7 * i,
  }))
}

interface Case {
  label: string
  request: EncodeRequest
  /** Uncompressed batches of this case must be byte-identical across encoders. */
  sameBytes: boolean
}

function casesFor(codec: Codec): Case[] {
  return [
    { label: 'sample', sameBytes: true, request: { codec, baseOffset: 0, records: sampleRecords(), producerId: -1, producerEpoch: -1, baseSequence: -1 } },
    {
      label: '1000 records',
      sameBytes: true,
      request: { codec, baseOffset: 1_000_000, records: thousandRecords(), producerId: 4242, producerEpoch: 3, baseSequence: 17 },
    },
    {
      // kafkajs takes the smallest timestamp as firstTimestamp, the others the first record's
      label: 'first record not the earliest, transactional',
      sameBytes: false,
      request: {
        codec,
        baseOffset: 7,
        transactional: true,
        producerId: 9,
        producerEpoch: 0,
        baseSequence: 0,
        records: [
          { key: text('late'), value: text('x'.repeat(200)), timestamp: T0 + 5000 },
          { key: text('early'), value: text('y'.repeat(200)), timestamp: T0 - 5000 },
          { key: text('mid'), value: text('z'.repeat(200)), timestamp: T0 },
        ],
      },
    },
  ]
}

interface Encoded {
  encoder: ForeignLibrary
  codec: Codec
  kase: Case
  outcome: EncodeOutcome
}

const encoded: Encoded[] = []
const decoded = new Map<string, Map<Encoded, DecodeOutcome>>() // decoder name -> encoded -> outcome

function okBytes(e: Encoded): Buffer {
  if (!e.outcome.ok) throw new Error(`${e.encoder.name} failed to encode ${e.kase.label} [${e.codec}]: ${e.outcome.error}`)
  return e.outcome.bytes
}

function onlyBatch(outcome: DecodeOutcome | undefined): DecodedBatch {
  if (outcome === undefined) throw new Error('not decoded')
  if (!outcome.ok) throw new Error(outcome.error)
  expect(outcome.batches).toHaveLength(1)
  expect(outcome.remainingBytes).toBe(0)
  return outcome.batches[0]!
}

beforeAll(async () => {
  await Promise.all(
    libs.map(async encoder => {
      const mine: Encoded[] = encoder.codecs.flatMap(codec => casesFor(codec).map(kase => ({ encoder, codec, kase, outcome: { ok: false, error: 'pending' } as EncodeOutcome })))
      const outcomes = await encoder.encodeAll(mine.map(e => e.kase.request))
      mine.forEach((e, i) => (e.outcome = outcomes[i]!))
      encoded.push(...mine)
    }),
  )
  await Promise.all(
    libs.map(async decoder => {
      const todo = encoded.filter(e => e.outcome.ok && decoder.decodeCodecs.includes(e.codec))
      const outcomes = await decoder.decodeAll(todo.map(okBytes))
      decoded.set(decoder.name, new Map(todo.map((e, i) => [e, outcomes[i]!])))
    }),
  )
})

describe('foreign oracles are available', () => {
  it('kafkajs and @platformatic/kafka always; kafka-python when Debian python has it', () => {
    expect(libs.map(l => l.name)).toEqual(expect.arrayContaining(['kafkajs', '@platformatic/kafka']))
    const kafkajs = byName('kafkajs')!
    expect(kafkajs.codecs).toEqual(expect.arrayContaining(['none', 'gzip']))
    expect(kafkajs.libraryVerifiesCrc).toBe(false)
    const platformatic = byName('@platformatic/kafka')!
    expect(platformatic.codecs).toEqual(expect.arrayContaining(['none', 'gzip', 'snappy', 'lz4']))
    expect(platformatic.libraryVerifiesCrc).toBe(false)
    const python = byName('kafka-python')
    if (python) {
      expect(python.codecs).toEqual(['none', 'gzip', 'snappy', 'lz4', 'zstd'])
      expect(python.libraryVerifiesCrc).toBe(true)
    }
  })

  it('every encode request the encoder supports succeeded, with the codec asked for', () => {
    expect(encoded.length).toBeGreaterThan(0)
    for (const e of encoded) {
      expect(e.outcome, `${e.encoder.name} ${e.kase.label} [${e.codec}]`).toMatchObject({ ok: true, codec: e.codec })
      expect(batchCodec(okBytes(e))).toBe(e.codec)
    }
  })
})

describe.each(libs.map(l => [l.name, l] as const))('encoder %s', (_, encoder) => {
  describe.each(libs.map(l => [l.name, l] as const))('→ decoder %s', (__, decoder) => {
    const shared = encoder.codecs.filter(c => decoder.decodeCodecs.includes(c))
    const readable = shared.filter(c => canRead(decoder, encoder, c))
    const unreadable = shared.filter(c => !canRead(decoder, encoder, c))
    if (unreadable.length > 0) {
      it.each(unreadable)('%s: known unreadable (snappy framing) - fails loudly, CRC still checked', codec => {
        for (const e of encoded.filter(x => x.encoder === encoder && x.codec === codec)) {
          const batch = onlyBatch(decoded.get(decoder.name)!.get(e))
          expect(batch.records).toBeNull()
          expect(batch.error).toBeTruthy()
          expect(batch.crcValid).toBe(true)
        }
      })
    }
    it.each(readable)('%s: every record read back exactly, CRC valid', codec => {
      const mine = encoded.filter(e => e.encoder === encoder && e.codec === codec)
      expect(mine).toHaveLength(casesFor(codec).length)
      for (const e of mine) {
        const where = `${encoder.name} → ${decoder.name} ${e.kase.label} [${codec}]`
        const batch = onlyBatch(decoded.get(decoder.name)!.get(e))
        const request = e.kase.request
        const timestamps = request.records.map(r => r.timestamp!)
        expect(batch.error, where).toBeUndefined()
        expect(batch, where).toMatchObject({
          crcValid: true,
          magic: 2,
          codec,
          baseOffset: request.baseOffset,
          lastOffsetDelta: request.records.length - 1,
          recordCount: request.records.length,
          maxTimestamp: Math.max(...timestamps),
          producerId: request.producerId,
          producerEpoch: request.producerEpoch,
          baseSequence: request.baseSequence,
          transactional: request.transactional === true,
          control: false,
          timestampType: 'create',
          partitionLeaderEpoch: 0,
        })
        expect(batch.firstTimestamp, where).toBe(encoder.name === 'kafkajs' ? Math.min(...timestamps) : timestamps[0])
        const got = batch.records!.map(r => ({
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key?.toString('hex') ?? null,
          value: r.value?.toString('hex') ?? null,
          headers: comparableHeaders(r.headers, decoder.headerOrderPreserved),
        }))
        const want = request.records.map((r, i) => ({
          offset: request.baseOffset! + i,
          timestamp: r.timestamp,
          key: r.key?.toString('hex') ?? null,
          value: r.value?.toString('hex') ?? null,
          headers: comparableHeaders(r.headers ?? [], decoder.headerOrderPreserved),
        }))
        expect(got, where).toEqual(want)
      }
    })
  })
})

describe('agreement on bytes', () => {
  it('uncompressed batches of the same records are byte-identical across libraries (CRC included)', () => {
    const plain = encoded.filter(e => e.codec === 'none' && e.kase.sameBytes)
    const labels = [...new Set(plain.map(e => e.kase.label))]
    expect(labels).toHaveLength(2)
    for (const label of labels) {
      const variants = plain.filter(e => e.kase.label === label)
      expect(variants).toHaveLength(libs.length)
      const reference = okBytes(variants[0]!).toString('hex')
      for (const v of variants) expect(okBytes(v).toString('hex'), `${v.encoder.name} ${label}`).toBe(reference)
    }
  })

  it('all decoders report the same stored CRC for every batch', () => {
    for (const e of encoded) {
      const crcs = libs.flatMap(d => {
        const o = decoded.get(d.name)!.get(e)
        return o ? [onlyBatch(o).crc] : []
      })
      expect(crcs.length).toBeGreaterThan(0)
      expect(new Set(crcs).size, `${e.encoder.name} ${e.kase.label} [${e.codec}]`).toBe(1)
      expect(crcs[0]).toBe(okBytes(e).readUInt32BE(17))
    }
  })
})

describe('concatenated batches', () => {
  it('every decoder splits several batches from different libraries and leaves a partial tail', async () => {
    const parts = libs.map(lib => okBytes(encoded.find(e => e.encoder === lib && e.codec === 'gzip' && e.kase.label === 'sample')!))
    const tail = parts[0]!.subarray(0, 30)
    const input = Buffer.concat([...parts, tail])
    const results = await Promise.all(libs.map(d => d.decodeFull(input)))
    results.forEach((result, i) => {
      const who = libs[i]!.name
      expect(result.remainingBytes, who).toBe(30)
      expect(result.batches, who).toHaveLength(parts.length)
      for (const b of result.batches) {
        expect(b.crcValid, who).toBe(true)
        expect(b.records, who).toHaveLength(sampleRecords().length)
      }
    })
  })
})

describe('decoders check the CRC', () => {
  // a byte in the CRC-covered region (attributes .. end) flipped must be noticed by every decoder:
  // crcValid false, or (if the damage also breaks decoding) an error - but never a silent, valid read
  const covered = (b: Buffer): Array<[string, number]> => [
    ['stored crc', 17],
    ['lastOffsetDelta', 26],
    ['maxTimestamp', 42],
    ['records, middle', 61 + Math.floor((b.length - 61) / 2)],
    ['last byte', b.length - 1],
  ]

  it.each(libs.map(l => [l.name, l] as const))('%s', async (_, decoder) => {
    const inputs: Array<{ what: string; bytes: Buffer; mustDecode: boolean; covered: boolean }> = []
    for (const codec of decoder.decodeCodecs) {
      // a batch this decoder read cleanly, preferably from another library
      const clean = encoded.filter(e => {
        const o = decoded.get(decoder.name)!.get(e)
        return e.codec === codec && e.kase.label === 'sample' && o?.ok === true && o.batches[0]?.records != null
      })
      const source = clean.find(e => e.encoder !== decoder) ?? clean[0]
      if (!source) continue
      const original = okBytes(source)
      for (const [what, at] of covered(original)) {
        const bytes = Buffer.from(original)
        bytes[at]! ^= 0x01
        // flipping the low bit of an uncompressed value byte leaves a perfectly decodable batch
        inputs.push({ what: `${codec} ${what} @${at}`, bytes, mustDecode: codec === 'none' && what !== 'last byte', covered: true })
      }
      for (const [what, at] of [['baseOffset', 7], ['partitionLeaderEpoch', 15]] as const) {
        const bytes = Buffer.from(original)
        bytes[at]! ^= 0x01
        inputs.push({ what: `${codec} ${what} @${at} (not CRC-covered)`, bytes, mustDecode: true, covered: false })
      }
    }
    expect(inputs.length).toBeGreaterThan(0)
    const outcomes = await decoder.decodeAll(inputs.map(i => i.bytes))
    outcomes.forEach((outcome, n) => {
      const input = inputs[n]!
      const where = `${decoder.name}: ${input.what}`
      if (input.mustDecode) {
        const batch = onlyBatch(outcome)
        expect(batch.error, where).toBeUndefined()
        expect(batch.crcValid, where).toBe(!input.covered)
      } else if (outcome.ok) {
        expect(outcome.batches.length, where).toBeLessThanOrEqual(1)
        for (const b of outcome.batches) expect(b.crcValid, where).toBe(false)
      }
    })
  })
})

describe('known quirks of the oracles', () => {
  const kafkajs = byName('kafkajs')!
  const platformatic = byName('@platformatic/kafka')!
  const python = byName('kafka-python')

  it('kafkajs cannot encode null header values nor header orders its header object cannot hold', async () => {
    const base = { key: null, value: text('v'), timestamp: T0 }
    const outcomes = await kafkajs.encodeAll([
      { codec: 'none', records: [{ ...base, headers: [{ key: 'h', value: null }] }] },
      { codec: 'none', records: [{ ...base, headers: [{ key: 'a', value: null }, { key: 'b', value: null }, { key: 'a', value: null }].map(h => ({ ...h, value: text('x') })) }] },
      { codec: 'none', records: [{ ...base, headers: [{ key: 'b', value: text('x') }, { key: '1', value: text('y') }] }] },
    ])
    expect(outcomes.map(o => o.ok)).toEqual([false, false, false])
  })

  it('kafkajs decodes headers into an object: duplicate keys grouped, integer-like keys first', async () => {
    const bytes = await platformatic.encode({
      codec: 'none',
      records: [{ key: null, value: null, timestamp: T0, headers: [{ key: 'b', value: text('1') }, { key: '7', value: null }, { key: 'b', value: text('2') }] }],
    })
    const [batch] = await kafkajs.decode(bytes)
    expect(batch!.records![0]!.headers).toEqual([
      { key: '7', value: null },
      { key: 'b', value: text('1') },
      { key: 'b', value: text('2') },
    ])
    const [same] = await platformatic.decode(bytes)
    expect(same!.records![0]!.headers.map(h => h.key)).toEqual(['b', '7', 'b'])
  })

  it('kafkajs sorts timestamps as strings: with different digit counts firstTimestamp/maxTimestamp go wrong', async () => {
    const bytes = await kafkajs.encode({
      codec: 'none',
      records: [
        { key: null, value: text('a'), timestamp: 999 },
        { key: null, value: text('b'), timestamp: 1000 },
      ],
    })
    const [batch] = await platformatic.decode(bytes)
    expect(batch).toMatchObject({ firstTimestamp: 1000, maxTimestamp: 999, crcValid: true })
    expect(batch!.records!.map(r => r.timestamp)).toEqual([999, 1000]) // records themselves are right
  })

  it('without explicit producer fields kafkajs/platformatic write epoch 0, sequence 0; kafka-python -1, -1', async () => {
    const request: EncodeRequest = { codec: 'none', records: [{ key: null, value: text('v'), timestamp: T0 }] }
    for (const lib of [kafkajs, platformatic]) {
      const [b] = await lib.decode(await lib.encode(request))
      expect(b, lib.name).toMatchObject({ producerId: -1, producerEpoch: 0, baseSequence: 0 })
    }
    if (python) {
      const [b] = await python.decode(await python.encode(request))
      expect(b).toMatchObject({ producerId: -1, producerEpoch: -1, baseSequence: -1 })
    }
  })

  it('platformatic writes raw snappy and LZ4 frames with FLG 0x60 (no content size, no checksums), BD 0x40', async () => {
    const bytes = await platformatic.encode({ codec: 'snappy', records: sampleRecords() })
    expect(bytes.subarray(61, 62).toString('hex')).not.toBe('82') // no xerial header
    const lz4 = await platformatic.encode({ codec: 'lz4', records: sampleRecords() })
    expect(lz4.subarray(61, 67).toString('hex')).toBe('04224d186040')
  })

  it.runIf(python)('kafka-python: xerial-framed snappy (platformatic cannot read it), LZ4 FLG 0x68, silent fallback to none', async () => {
    const py = python!
    const [snappy, lz4, tiny] = await py.encodeAll([
      { codec: 'snappy', records: sampleRecords() },
      { codec: 'lz4', records: sampleRecords() },
      { codec: 'gzip', records: [{ key: null, value: text('x'), timestamp: T0 }] },
    ])
    const snappyBytes = (snappy as { bytes: Buffer }).bytes
    // 0x82 'SNAPPY' 0x00, version 1, compatible version 1, then [int32 length, raw block]...
    expect(snappyBytes.subarray(61, 77).toString('hex')).toBe('82534e415050590000000001' + '00000001')
    const [fromPlatformatic] = await platformatic.decode(snappyBytes)
    expect(fromPlatformatic!.records).toBeNull()
    expect(fromPlatformatic!.error).toMatch(/platformatic/)
    expect((lz4 as { bytes: Buffer }).bytes.subarray(61, 67).toString('hex')).toBe('04224d186840')
    // compression that does not pay is dropped: attributes say none
    expect(tiny).toMatchObject({ ok: true, codec: 'none' })
  })
})
