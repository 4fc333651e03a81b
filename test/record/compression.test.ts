import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isSpoolError } from '../../src/errors.js'
import {
  COMPRESSION_CODECS,
  CodecError,
  type CodecImplementation,
  type CompressionCodec,
  codecFromId,
  codecId,
  codecImplementations,
  compress,
  decompress,
  loadCodecs,
  parseCompressionCodec,
} from '../../src/record/compression/index.js'
import { LZ4_BLOCK_BYTES } from '../../src/record/compression/lz4-frame.js'
import { XERIAL_BLOCK_BYTES, XERIAL_MAGIC } from '../../src/record/compression/xerial.js'
import { encodeXerial } from '../helpers/xerial-writer.js'

const snappyPackage = createRequire(import.meta.url)('snappy') as { uncompressSync(input: Uint8Array): Buffer }
import { xxh32 } from '../../src/record/compression/xxh32.js'

const MiB = 1024 * 1024
const COMPRESSED: readonly CompressionCodec[] = COMPRESSION_CODECS.filter((c) => c !== 'none')

/** mulberry32: the same bytes on every run, so a failure can be replayed. */
function randomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let a = seed >>> 0
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    out[i] = (t ^ (t >>> 14)) & 0xff
  }
  return out
}

/** Records as a producer sends them: JSON with repeated keys and varying values. */
function jsonLike(length: number): Buffer {
  const events = ['click', 'view', 'purchase', 'scroll']
  let text = ''
  for (let i = 0; text.length < length; i++) {
    text += `${JSON.stringify({ id: i, user: `user-${(i * 7919) % 997}`, event: events[i % 4], ts: 1_700_000_000_000 + i * 37, score: (i * 2654435761) % 10007 })}\n`
  }
  return Buffer.from(text.slice(0, length))
}

const DATASETS: readonly (readonly [string, Buffer])[] = [
  ['empty', Buffer.alloc(0)],
  ['small', Buffer.from('hello, spool')],
  ['1 MiB random', randomBytes(MiB, 1)],
  ['1 MiB compressible', jsonLike(MiB)],
]

const nativeFirst = loadCodecs()
const fallbackFirst = loadCodecs({ preferNative: false })

/** Each codec's distinct implementations here: native (when it loaded) and fallback. */
function implementationsOf(codec: CompressionCodec): CodecImplementation[] {
  return [...new Set([nativeFirst[codec], fallbackFirst[codec]])]
}

function expectCodecError(run: () => unknown, pattern?: RegExp): CodecError {
  try {
    run()
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(CodecError)
    if (pattern !== undefined) expect((error as Error).message).toMatch(pattern)
    return error as CodecError
  }
  throw new Error('expected a CodecError, but it succeeded')
}

const TOO_LARGE = /more than maxBytes/

describe('codec names and ids', () => {
  it('numbers the codecs as Kafka does', () => {
    expect(COMPRESSION_CODECS.map(codecId)).toEqual([0, 1, 2, 3, 4])
    expect(COMPRESSION_CODECS.map((c) => codecFromId(codecId(c)))).toEqual([...COMPRESSION_CODECS])
    for (const id of [5, 6, 7, -1, 8, 1.5, Number.NaN]) expect(codecFromId(id)).toBeNull()
  })

  it('parses codec names and refuses others with INVALID_ARGUMENT naming the field and the valid names', () => {
    expect(parseCompressionCodec('lz4', 'compression')).toBe('lz4')
    for (const bad of ['LZ4', 'lz5', '', 3, null, undefined, {}]) {
      try {
        parseCompressionCodec(bad, 'compression')
        throw new Error(`accepted ${String(bad)}`)
      } catch (error) {
        expect(isSpoolError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
        expect((error as Error).message).toContain('compression')
        expect((error as Error).message).toContain('none, gzip, snappy, lz4, zstd')
      }
    }
  })

  it('names the implementation of every codec', () => {
    const names = codecImplementations()
    expect(Object.keys(names).sort()).toEqual([...COMPRESSION_CODECS].sort())
    for (const codec of COMPRESSION_CODECS) expect(names[codec]).toBe(nativeFirst[codec].name)
    for (const codec of COMPRESSION_CODECS) expect(fallbackFirst[codec].name).not.toMatch(/unavailable/)
  })

  it('checks maxBytes', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      try {
        decompress('none', Buffer.alloc(0), bad)
        throw new Error(`accepted ${bad}`)
      } catch (error) {
        expect(isSpoolError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
      }
    }
  })
})

describe.each(COMPRESSION_CODECS)('%s round trips', (codec) => {
  const implementations = implementationsOf(codec)
  const pairs = implementations.flatMap((writer) => implementations.map((reader) => [writer, reader] as const))
  for (const [label, data] of DATASETS) {
    it.each(pairs.map(([w, r]) => [w.name, r.name, w, r] as const))(`${label}: %s -> %s`, (_w, _r, writer, reader) => {
      const packed = writer.compress(data)
      const unpacked = reader.decompress(packed, data.length)
      expect(unpacked.equals(data)).toBe(true)
    })
  }

  it('through the module API, from a Uint8Array that is not a Buffer and sits inside a larger one', () => {
    const data = jsonLike(100_000)
    const backing = new Uint8Array(data.length + 20)
    backing.set(data, 10)
    const view = backing.subarray(10, 10 + data.length)
    const packed = compress(codec, view)
    const packedView = new Uint8Array(packed.length + 7).fill(0xaa)
    packedView.set(packed, 3)
    expect(decompress(codec, packedView.subarray(3, 3 + packed.length), data.length).equals(data)).toBe(true)
  })

  it('never shares memory with its input', () => {
    const data = jsonLike(1000)
    const packed = compress(codec, data)
    const unpacked = decompress(codec, packed, data.length)
    unpacked[0] = 0
    expect(data[0]).not.toBe(0)
    expect(packed.buffer === data.buffer && packed.byteOffset === data.byteOffset).toBe(false)
  })

  if (codec === 'snappy' || codec === 'lz4' || codec === 'zstd') {
    const missing = nativeFirst[codec].native ? '' : `: skipped, no native ${codec} loaded here (${nativeFirst[codec].name}), so only the fallback ran`
    it.skipIf(missing !== '')(`native and fallback ${codec} both ran${missing}`, () => {
      expect(implementations.map((i) => i.native).sort()).toEqual([false, true])
    })
  }
})

describe('snappy framing', () => {
  const data = jsonLike(3 * XERIAL_BLOCK_BYTES + 123)

  it.each(implementationsOf('snappy').map((i) => [i.name, i] as const))('%s writes one raw block, which every client reads', (_name, impl) => {
    const packed = impl.compress(data)
    expect(packed.subarray(0, 8).equals(XERIAL_MAGIC)).toBe(false)
    for (const reader of implementationsOf('snappy')) expect(reader.decompress(packed, data.length).equals(data)).toBe(true)
    expect(snappyPackage.uncompressSync(packed).equals(data)).toBe(true)
  })

  it.each(implementationsOf('snappy').map((i) => [i.name, i] as const))("%s reads Kafka's Java framing (xerial) in 32 KiB chunks", (_name, impl) => {
    const framed = encodeXerial(data)
    expect(impl.decompress(framed, data.length).equals(data)).toBe(true)
    expect(impl.decompress(encodeXerial(Buffer.alloc(0)), 10).length).toBe(0)
  })

  it('reads concatenated xerial streams, as snappy-java does', () => {
    const a = jsonLike(50_000)
    const b = randomBytes(40_000, 7)
    const both = Buffer.concat([encodeXerial(a), encodeXerial(b)])
    for (const reader of implementationsOf('snappy')) expect(reader.decompress(both, 90_000).equals(Buffer.concat([a, b]))).toBe(true)
  })

  it('refuses a stream that needs a newer reader', () => {
    const packed = encodeXerial(data)
    packed.writeInt32BE(2, 12)
    for (const reader of implementationsOf('snappy')) expectCodecError(() => reader.decompress(packed, data.length), /version 2/)
  })
})

describe('lz4 framing', () => {
  it.each(implementationsOf('lz4').map((i) => [i.name, i] as const))(
    '%s writes what Java writes: FLG 0x60, BD 0x40 (independent 64 KiB blocks, which Java requires), a valid header checksum',
    (_name, impl) => {
      const packed = impl.compress(jsonLike(3 * LZ4_BLOCK_BYTES + 5))
      expect(packed.readUInt32LE(0)).toBe(0x184d2204)
      expect(packed[4]).toBe(0x60)
      expect(packed[5]).toBe(0x40)
      expect(packed[6]).toBe((xxh32(packed, 4, 6) >>> 8) & 0xff)
      let blocks = 0
      for (let pos = 7; packed.readUInt32LE(pos) !== 0; blocks++) pos += 4 + (packed.readUInt32LE(pos) & 0x7fffffff)
      expect(blocks).toBe(4)
      expect(packed.readUInt32LE(packed.length - 4)).toBe(0)
    },
  )

  it.each(implementationsOf('lz4').map((i) => [i.name, i] as const))('%s stores incompressible blocks instead of growing them', (_name, impl) => {
    const data = randomBytes(LZ4_BLOCK_BYTES * 2, 3)
    const packed = impl.compress(data)
    expect(packed.length).toBe(7 + 2 * (4 + LZ4_BLOCK_BYTES) + 4)
    expect(packed.readUInt32LE(7) >>> 31).toBe(1)
  })

  it('xxh32 matches the published test vectors', () => {
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05)
    expect(xxh32(Buffer.from('a'))).toBe(0x550d7456)
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff)
    expect(xxh32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f)
  })
})

describe.each(COMPRESSED)('%s refuses bad input with CodecError', (codec) => {
  const data = jsonLike(MiB)
  for (const impl of implementationsOf(codec)) {
    const packed = impl.compress(data)

    it(`${impl.name}: empty input`, () => {
      expectCodecError(() => impl.decompress(Buffer.alloc(0), MiB))
    })

    it(`${impl.name}: garbage`, () => {
      expectCodecError(() => impl.decompress(Buffer.from('this was never compressed by anyone'), MiB))
      for (let seed = 1; seed <= 20; seed++) expectCodecError(() => impl.decompress(randomBytes(500, seed), MiB))
    })

    it(`${impl.name}: garbage behind a valid header`, () => {
      const broken = Buffer.concat([packed.subarray(0, 16), randomBytes(2000, 99)])
      expectCodecError(() => impl.decompress(broken, MiB))
    })

    it(`${impl.name}: truncated anywhere`, () => {
      for (const cut of [1, 4, 7, 12, 17, 100, packed.length >> 1, packed.length - 5, packed.length - 1]) {
        expectCodecError(() => impl.decompress(packed.subarray(0, cut), MiB))
      }
    })

    it(`${impl.name}: output over maxBytes, and exactly maxBytes`, () => {
      expectCodecError(() => impl.decompress(packed, data.length - 1), TOO_LARGE)
      expectCodecError(() => impl.decompress(packed, 0), TOO_LARGE)
      expect(impl.decompress(packed, data.length).length).toBe(data.length)
      expect(impl.decompress(impl.compress(Buffer.alloc(0)), 0).length).toBe(0)
    })

    it(`${impl.name}: a bomb (64 MiB of zeros) fails fast against a 1 MiB limit`, () => {
      const bomb = impl.compress(Buffer.alloc(64 * MiB))
      const started = performance.now()
      expectCodecError(() => impl.decompress(bomb, MiB), TOO_LARGE)
      expect(performance.now() - started).toBeLessThan(2000)
    })
  }
})

describe.each(COMPRESSED)('%s on mutated input', (codec) => {
  const data = jsonLike(200_000)
  for (const impl of implementationsOf(codec)) {
    const packed = impl.compress(data)
    it(`${impl.name}: returns at most maxBytes or throws CodecError, nothing else`, () => {
      const mutation = fc.record({
        flips: fc.array(fc.record({ at: fc.nat(packed.length - 1), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }),
        cut: fc.option(fc.nat(packed.length), { nil: undefined }),
      })
      fc.assert(
        fc.property(mutation, ({ flips, cut }) => {
          const bad = Buffer.from(packed)
          for (const { at, xor } of flips) bad[at] = bad[at]! ^ xor
          const input = cut === undefined ? bad : bad.subarray(0, cut)
          try {
            expect(impl.decompress(input, data.length).length).toBeLessThanOrEqual(data.length)
          } catch (error) {
            if (!(error instanceof CodecError)) throw error
          }
        }),
        { numRuns: 300, seed: 42 },
      )
    })
  }
})

describe('size guards read declared sizes before allocating', () => {
  it('snappy: a raw block declaring 4 GiB', () => {
    const raw = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00])
    for (const impl of implementationsOf('snappy')) expectCodecError(() => impl.decompress(raw, MiB), TOO_LARGE)
  })

  it('snappy: a varint longer than 32 bits', () => {
    for (const impl of implementationsOf('snappy')) expectCodecError(() => impl.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), MiB), /length/)
  })

  it('snappy: xerial chunks that add up past maxBytes', () => {
    const data = Buffer.alloc(40 * XERIAL_BLOCK_BYTES)
    for (const impl of implementationsOf('snappy')) expectCodecError(() => impl.decompress(encodeXerial(data), 5 * XERIAL_BLOCK_BYTES), TOO_LARGE)
  })

  it('lz4: a frame declaring 1 TiB of content', () => {
    // FLG 0x68: version 1, independent blocks, content size; then BD, the size, the header checksum, the end mark.
    const frame = Buffer.alloc(19)
    frame.writeUInt32LE(0x184d2204, 0)
    frame[4] = 0x68
    frame[5] = 0x40
    frame.writeUInt32LE(256, 10)
    frame[14] = (xxh32(frame, 4, 14) >>> 8) & 0xff
    for (const impl of implementationsOf('lz4')) expectCodecError(() => impl.decompress(frame, MiB), TOO_LARGE)
  })

  it('lz4: a block is cut off at what is left of maxBytes, even inside a block', () => {
    const data = Buffer.alloc(3 * LZ4_BLOCK_BYTES, 7)
    for (const writer of implementationsOf('lz4')) {
      const frame = writer.compress(data)
      for (const reader of implementationsOf('lz4')) {
        for (const limit of [0, 1000, LZ4_BLOCK_BYTES, 2 * LZ4_BLOCK_BYTES + 1, data.length - 1]) expectCodecError(() => reader.decompress(frame, limit), TOO_LARGE)
        expect(reader.decompress(frame, data.length).equals(data)).toBe(true)
      }
    }
  })

  it('lz4: a block that decodes past the block size its frame declares is malformed, not too large', () => {
    // One literal, then a match of 70,000 bytes at offset 1, then one last literal: more than BD 0x40's 64 KiB.
    const matchExtra: number[] = []
    for (let n = 70_000 - 4 - 15; ; n -= 255) {
      if (n < 255) {
        matchExtra.push(n)
        break
      }
      matchExtra.push(255)
    }
    const block = Buffer.from([0x1f, 0x61, 0x01, 0x00, ...matchExtra, 0x10, 0x62])
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0])
    header[6] = (xxh32(header, 4, 6) >>> 8) & 0xff
    const size = Buffer.alloc(4)
    size.writeUInt32LE(block.length)
    const frame = Buffer.concat([header, size, block, Buffer.alloc(4)])
    for (const impl of implementationsOf('lz4')) expectCodecError(() => impl.decompress(frame, 10 * MiB), /past its maximum size/)
  })

  it('lz4: linked blocks (the default of python lz4.frame) decode, natively too', () => {
    // Two blocks, the second a single match into the first.
    const first = Buffer.from('0123456789abcdef0123456789abcdef')
    const block1 = Buffer.concat([Buffer.from([0xf0, first.length - 15]), first])
    const block2 = Buffer.from([0x0f, 32, 0, 32 - 19, 0x00])
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0])
    header[6] = (xxh32(header, 4, 6) >>> 8) & 0xff
    const sized = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length, 0, 0, 0]), b])
    const frame = Buffer.concat([header, sized(block1), sized(block2), Buffer.alloc(4)])
    for (const impl of implementationsOf('lz4')) expect(impl.decompress(frame, 100).toString()).toBe(first.toString() + first.toString())
  })

  it('lz4: checksums are checked', () => {
    // A frame with content and block checksums, built by hand around a stored block.
    const content = Buffer.from('checksummed content')
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x74, 0x40, 0])
    header[6] = (xxh32(header, 4, 6) >>> 8) & 0xff
    const size = Buffer.alloc(4)
    size.writeUInt32LE((0x80000000 | content.length) >>> 0)
    const blockSum = Buffer.alloc(4)
    blockSum.writeUInt32LE(xxh32(content))
    const contentSum = Buffer.alloc(4)
    contentSum.writeUInt32LE(xxh32(content))
    const frame = Buffer.concat([header, size, content, blockSum, Buffer.alloc(4), contentSum])
    for (const impl of implementationsOf('lz4')) {
      expect(impl.decompress(frame, 100).equals(content)).toBe(true)
      for (const at of [6, 7 + 4 + 3, frame.length - 1, 7 + 4 + content.length]) {
        const bad = Buffer.from(frame)
        bad[at] = bad[at]! ^ 1
        expectCodecError(() => impl.decompress(bad, 100))
      }
    }
  })

  it('lz4: trailing bytes after the frame', () => {
    for (const impl of implementationsOf('lz4')) expectCodecError(() => impl.decompress(Buffer.concat([impl.compress(Buffer.from('x')), Buffer.from([1])]), 100), /after the frame/)
  })

  it('zstd: a frame declaring 1 TiB of content', () => {
    // FHD 0xc0: 8-byte content size, with a window descriptor; one empty raw last block.
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x50, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0, 0])
    for (const impl of implementationsOf('zstd')) expectCodecError(() => impl.decompress(frame, MiB), TOO_LARGE)
  })

  it('zstd: a frame without a content size (as streaming compressors write) made of 512 RLE blocks of 128 KiB', () => {
    const blocks: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])]
    for (let i = 0; i < 512; i++) {
      const header = ((128 * 1024) << 3) | (1 << 1) | (i === 511 ? 1 : 0)
      blocks.push(Buffer.from([header & 0xff, (header >>> 8) & 0xff, header >>> 16, 0x61]))
    }
    const frame = Buffer.concat(blocks)
    for (const impl of implementationsOf('zstd')) {
      expectCodecError(() => impl.decompress(frame, MiB), TOO_LARGE)
      const out = impl.decompress(frame, 64 * MiB)
      expect(out.length).toBe(64 * MiB)
      expect(out[64 * MiB - 1]).toBe(0x61)
    }
  })

  it('zstd: several frames in one payload', () => {
    const a = jsonLike(300_000)
    const b = randomBytes(70_000, 5)
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9])
    for (const writer of implementationsOf('zstd')) {
      const both = Buffer.concat([writer.compress(a), skippable, writer.compress(b)])
      for (const reader of implementationsOf('zstd')) {
        expect(reader.decompress(both, a.length + b.length).equals(Buffer.concat([a, b]))).toBe(true)
        expectCodecError(() => reader.decompress(both, a.length + b.length - 1), TOO_LARGE)
      }
    }
  })

  it('none: input over maxBytes', () => {
    expectCodecError(() => decompress('none', Buffer.alloc(10), 9), TOO_LARGE)
  })
})
