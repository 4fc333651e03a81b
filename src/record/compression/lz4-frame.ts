import { CodecError, tooLarge } from './codec-error.js'
import { compressLz4Block, decompressLz4Block, lz4CompressBound, lz4HashTable } from './lz4-block.js'
import { xxh32 } from './xxh32.js'

/**
 * The LZ4 frame format, which magic-2 batches use: a header (magic, FLG, BD, optional
 * content size and dictionary id, header checksum), blocks each led by a 32-bit
 * little-endian size whose top bit marks a stored (uncompressed) block, optional block
 * checksums, an end mark, an optional content checksum.
 */

export const LZ4_MAGIC = 0x184d2204
const FLG_VERSION_MASK = 0xc0
const FLG_VERSION_1 = 0x40
const FLG_BLOCK_INDEPENDENT = 0x20
const FLG_BLOCK_CHECKSUM = 0x10
const FLG_CONTENT_SIZE = 0x08
const FLG_CONTENT_CHECKSUM = 0x04
const FLG_RESERVED = 0x02
const FLG_DICTIONARY_ID = 0x01
const BD_RESERVED = 0x8f
const BD_SIZE_SHIFT = 4
const STORED_BLOCK_FLAG = 0x80000000
const MAGIC_BYTES = 4
const CHECKSUM_BYTES = 4
const BLOCK_SIZE_BYTES = 4
const CONTENT_SIZE_BYTES = 8
/** At most 255 output bytes per input byte: a match length byte of 255 adds 255 bytes. */
const MAX_EXPANSION = 255

/** Block maximum sizes by BD id: 4 = 64 KiB, 5 = 256 KiB, 6 = 1 MiB, 7 = 4 MiB. */
function blockMaxBytes(id: number): number {
  return 1 << (2 * id + 8)
}

/**
 * What we write: what Kafka's Java producer writes (Lz4BlockOutputStream), 64 KiB
 * independent blocks, no content size, no checksums (the batch CRC covers the bytes).
 * Independent blocks matter: Java's reader refuses linked ones ("Dependent block stream
 * is unsupported").
 */
export const LZ4_BLOCK_SIZE_ID = 4
export const LZ4_BLOCK_BYTES = blockMaxBytes(LZ4_BLOCK_SIZE_ID)
const WRITE_FLG = FLG_VERSION_1 | FLG_BLOCK_INDEPENDENT
const WRITE_BD = LZ4_BLOCK_SIZE_ID << BD_SIZE_SHIFT
const WRITE_HEADER_BYTES = MAGIC_BYTES + 3

function corrupt(problem: string): CodecError {
  return new CodecError('lz4', `malformed frame: ${problem}`)
}

function read32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0
}

export interface Lz4Frame {
  readonly flags: number
  readonly blockMax: number
  /** The declared content size, or null when the frame does not declare one. */
  readonly contentSize: number | null
  readonly blocksStart: number
  /**
   * The most the frame can decompress to, from its structure alone: each stored block's
   * size, each compressed block's maximum (the lesser of the block size limit and 255
   * bytes per input byte).
   */
  readonly outputBound: number
}

/**
 * Checks the frame's structure end to end, without decompressing: header fields and
 * checksum, that every block fits the input and its size limit, the end mark, and no
 * trailing bytes. A declared content size over `maxBytes` fails here, before any
 * allocation.
 */
export function scanLz4Frame(data: Uint8Array, maxBytes: number): Lz4Frame {
  if (data.length < MAGIC_BYTES + 3) throw corrupt(data.length === 0 ? 'empty input' : 'header cut short')
  if (read32(data, 0) !== LZ4_MAGIC) throw corrupt('not an LZ4 frame (bad magic)')
  const flags = data[4]!
  const bd = data[5]!
  if ((flags & FLG_VERSION_MASK) !== FLG_VERSION_1) throw corrupt('unsupported version')
  if ((flags & FLG_RESERVED) !== 0 || (bd & BD_RESERVED) !== 0) throw corrupt('reserved bits set')
  if ((flags & FLG_DICTIONARY_ID) !== 0) throw corrupt('frames that need a dictionary are not supported')
  const sizeId = bd >>> BD_SIZE_SHIFT
  if (sizeId < 4) throw corrupt(`invalid block size id ${sizeId}`)
  const blockMax = blockMaxBytes(sizeId)
  let pos = 6
  let contentSize: number | null = null
  if ((flags & FLG_CONTENT_SIZE) !== 0) {
    if (data.length < pos + CONTENT_SIZE_BYTES + 1) throw corrupt('header cut short')
    contentSize = read32(data, pos) + read32(data, pos + 4) * 2 ** 32
    pos += CONTENT_SIZE_BYTES
    if (contentSize > maxBytes) throw tooLarge('lz4', maxBytes)
  }
  const headerChecksum = (xxh32(data, MAGIC_BYTES, pos) >>> 8) & 0xff
  if (data[pos] !== headerChecksum) throw corrupt('header checksum mismatch')
  pos += 1
  const blocksStart = pos
  const blockChecksumBytes = (flags & FLG_BLOCK_CHECKSUM) !== 0 ? CHECKSUM_BYTES : 0
  let outputBound = 0
  for (;;) {
    if (data.length - pos < BLOCK_SIZE_BYTES) throw corrupt('block size cut short')
    const word = read32(data, pos)
    pos += BLOCK_SIZE_BYTES
    if (word === 0) break
    const stored = (word & STORED_BLOCK_FLAG) !== 0
    const size = word & ~STORED_BLOCK_FLAG
    if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the frame's ${blockMax}`)
    if (data.length - pos < size + blockChecksumBytes) throw corrupt('block cut short')
    outputBound += stored ? size : Math.min(blockMax, size * MAX_EXPANSION)
    pos += size + blockChecksumBytes
  }
  if ((flags & FLG_CONTENT_CHECKSUM) !== 0) pos += CHECKSUM_BYTES
  if (pos > data.length) throw corrupt('content checksum cut short')
  if (pos < data.length) throw corrupt(`${data.length - pos} bytes after the frame`)
  return { flags, blockMax, contentSize, blocksStart, outputBound }
}

/**
 * Decodes one compressed block of `src[start, end)` into `dst` at `dstPos`, writing nothing
 * at or past `dstLimit`, with matches reaching back to `windowStart`; returns the end of
 * its output and throws `overflow()` when the output does not fit.
 */
export type Lz4BlockDecoder = (
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  dstPos: number,
  dstLimit: number,
  windowStart: number,
  overflow: () => CodecError,
) => number

/**
 * Compresses one block (at most LZ4_BLOCK_BYTES) into `dst` at `dstPos`, which has room for
 * lz4CompressBound(block.length) bytes; returns where its output ends. An output no shorter
 * than the block need not be written: the frame stores such a block as it is.
 */
export type Lz4BlockEncoder = (block: Uint8Array, dst: Uint8Array, dstPos: number) => number

/** Our block encoder, in plain TypeScript. */
export function encodeLz4BlockTs(): Lz4BlockEncoder {
  const table = lz4HashTable()
  return (block, dst, dstPos) => compressLz4Block(block, 0, block.length, dst, dstPos, table)
}

/**
 * Decodes a frame, never writing past `maxBytes`; checks every checksum. Each block's
 * output is bounded by the frame's block size and what is left of maxBytes, so a crafted
 * frame cannot make it allocate more than that.
 */
export function decodeLz4Frame(data: Uint8Array, maxBytes: number, decodeBlock: Lz4BlockDecoder = decompressLz4Block): Buffer {
  const frame = scanLz4Frame(data, maxBytes)
  const { flags, blockMax, contentSize, outputBound } = frame
  const capacity = contentSize ?? Math.min(outputBound, maxBytes)
  const out = Buffer.allocUnsafe(capacity)
  const blockChecksum = (flags & FLG_BLOCK_CHECKSUM) !== 0
  const independent = (flags & FLG_BLOCK_INDEPENDENT) !== 0
  let pos = frame.blocksStart
  let written = 0
  for (;;) {
    const word = read32(data, pos)
    pos += BLOCK_SIZE_BYTES
    if (word === 0) break
    const size = word & ~STORED_BLOCK_FLAG
    const end = pos + size
    if (blockChecksum && read32(data, end) !== xxh32(data, pos, end)) throw corrupt('block checksum mismatch')
    const limit = Math.min(written + blockMax, capacity)
    // Only a limit that maxBytes set makes the batch too large; past the block size, the
    // declared content size or the frame's bound, the frame is lying.
    const overflow = (): CodecError =>
      contentSize !== null
        ? corrupt('more data than the declared content size')
        : limit < written + blockMax && capacity < outputBound
          ? tooLarge('lz4', maxBytes)
          : corrupt('block decompresses past its maximum size')
    if ((word & STORED_BLOCK_FLAG) !== 0) {
      if (size > limit - written) throw overflow()
      out.set(data.subarray(pos, end), written)
      written += size
    } else {
      written = decodeBlock(data, pos, end, out, written, limit, independent ? written : 0, overflow)
    }
    pos = end + (blockChecksum ? CHECKSUM_BYTES : 0)
  }
  if (contentSize !== null && written !== contentSize) throw corrupt(`${written} of the declared ${contentSize} bytes present`)
  if ((flags & FLG_CONTENT_CHECKSUM) !== 0 && read32(data, pos) !== xxh32(out, 0, written)) throw corrupt('content checksum mismatch')
  // Copied out when much smaller than the allocation, which the frame's bound may overstate.
  return written * 2 < capacity ? Buffer.from(out.subarray(0, written)) : out.subarray(0, written)
}

/** Encodes a frame as Kafka's Java producer would (see LZ4_BLOCK_BYTES). */
export function encodeLz4Frame(data: Uint8Array, encodeBlock: Lz4BlockEncoder = encodeLz4BlockTs()): Buffer {
  const blocks = Math.ceil(data.length / LZ4_BLOCK_BYTES)
  // Room for every block at its worst, each with its size word: the blocks' lz4CompressBound
  // add up to at most the whole input's plus its 16 spare bytes once per block.
  const capacity = WRITE_HEADER_BYTES + blocks * (BLOCK_SIZE_BYTES + 16) + lz4CompressBound(data.length) + BLOCK_SIZE_BYTES
  const out = Buffer.allocUnsafe(capacity)
  out.writeUInt32LE(LZ4_MAGIC, 0)
  out[4] = WRITE_FLG
  out[5] = WRITE_BD
  out[6] = (xxh32(out, MAGIC_BYTES, 6) >>> 8) & 0xff
  let pos = WRITE_HEADER_BYTES
  for (let start = 0; start < data.length; start += LZ4_BLOCK_BYTES) {
    const end = Math.min(start + LZ4_BLOCK_BYTES, data.length)
    const blockEnd = encodeBlock(data.subarray(start, end), out, pos + BLOCK_SIZE_BYTES)
    const size = blockEnd - pos - BLOCK_SIZE_BYTES
    if (size < end - start) {
      out.writeUInt32LE(size, pos)
      pos = blockEnd
    } else {
      // Incompressible: stored as is, as the format allows, rather than grown.
      out.writeUInt32LE((STORED_BLOCK_FLAG | (end - start)) >>> 0, pos)
      out.set(data.subarray(start, end), pos + BLOCK_SIZE_BYTES)
      pos += BLOCK_SIZE_BYTES + end - start
    }
  }
  out.writeUInt32LE(0, pos)
  pos += BLOCK_SIZE_BYTES
  return Buffer.from(out.subarray(0, pos))
}
