import { CodecError, tooLarge } from './codec-error.js'

/**
 * Walks zstd frames (RFC 8878) without decompressing: checks that every header and block
 * is whole and well formed, and bounds each frame's output, so that no decompressor is
 * handed a truncated input (node:zlib's zstd returns what it decoded so far, without an
 * error) or asked to allocate more than maxBytes.
 */

const ZSTD_MAGIC = 0xfd2fb528
/** Skippable frames carry user data a decoder ignores; their magics are 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC = 0x184d2a50
const SKIPPABLE_MAGIC_MASK = 0xfffffff0
const MAGIC_BYTES = 4
const BLOCK_HEADER_BYTES = 3
const CHECKSUM_BYTES = 4
/** The format caps every block at 128 KiB of output. */
const MAX_BLOCK_BYTES = 128 * 1024
const FHD_RESERVED = 0x08
const FHD_CHECKSUM = 0x04
const FHD_SINGLE_SEGMENT = 0x20
/** Bytes of the dictionary id and of the content size, by their 2-bit flags. */
const DICTIONARY_ID_BYTES = [0, 1, 2, 4] as const
const CONTENT_SIZE_BYTES = [0, 2, 4, 8] as const
/** A 2-byte content size is stored minus 256. */
const TWO_BYTE_CONTENT_SIZE_BASE = 256
const BLOCK_RAW = 0
const BLOCK_RLE = 1
const BLOCK_COMPRESSED = 2

export interface ZstdFrame {
  readonly start: number
  readonly end: number
  /** The declared content size, or null when the frame does not declare one. */
  readonly contentSize: number | null
  /** The most the frame can decompress to: raw and RLE blocks' sizes, compressed blocks' maximum. */
  readonly outputBound: number
}

function corrupt(problem: string): CodecError {
  return new CodecError('zstd', `malformed input: ${problem}`)
}

function readLE(b: Uint8Array, at: number, bytes: number): number {
  let value = 0
  for (let i = bytes - 1; i >= 0; i--) value = value * 256 + b[at + i]!
  return value
}

function scanFrame(data: Uint8Array, start: number, maxBytes: number): ZstdFrame {
  let pos = start + MAGIC_BYTES
  if (data.length - pos < 1) throw corrupt('frame header cut short')
  const descriptor = data[pos++]!
  if ((descriptor & FHD_RESERVED) !== 0) throw corrupt('reserved bit set')
  const singleSegment = (descriptor & FHD_SINGLE_SEGMENT) !== 0
  const sizeFlag = descriptor >>> 6
  const sizeBytes = sizeFlag === 0 && singleSegment ? 1 : CONTENT_SIZE_BYTES[sizeFlag]!
  const headerRest = (singleSegment ? 0 : 1) + DICTIONARY_ID_BYTES[descriptor & 3]! + sizeBytes
  if (data.length - pos < headerRest) throw corrupt('frame header cut short')
  let windowSize = Infinity
  if (!singleSegment) {
    const windowDescriptor = data[pos++]!
    const windowBase = 2 ** (10 + (windowDescriptor >>> 3))
    windowSize = windowBase + (windowBase / 8) * (windowDescriptor & 7)
  }
  pos += DICTIONARY_ID_BYTES[descriptor & 3]!
  let contentSize: number | null = null
  if (sizeBytes > 0) {
    contentSize = readLE(data, pos, sizeBytes) + (sizeBytes === 2 ? TWO_BYTE_CONTENT_SIZE_BASE : 0)
    pos += sizeBytes
    if (contentSize > maxBytes) throw tooLarge('zstd', maxBytes)
    if (singleSegment) windowSize = contentSize
  }
  const blockMax = Math.min(windowSize, MAX_BLOCK_BYTES)
  let outputBound = 0
  for (;;) {
    if (data.length - pos < BLOCK_HEADER_BYTES) throw corrupt('block header cut short')
    const header = readLE(data, pos, BLOCK_HEADER_BYTES)
    pos += BLOCK_HEADER_BYTES
    const type = (header >>> 1) & 3
    const size = header >>> 3
    if (type === BLOCK_RAW || type === BLOCK_RLE) {
      if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the ${blockMax}-byte maximum`)
      outputBound += size
    } else if (type === BLOCK_COMPRESSED) {
      if (size > blockMax) throw corrupt(`block of ${size} bytes exceeds the ${blockMax}-byte maximum`)
      outputBound += blockMax
    } else {
      throw corrupt('reserved block type')
    }
    const stored = type === BLOCK_RLE ? 1 : size
    if (data.length - pos < stored) throw corrupt('block cut short')
    pos += stored
    if ((header & 1) !== 0) break
  }
  if ((descriptor & FHD_CHECKSUM) !== 0) {
    if (data.length - pos < CHECKSUM_BYTES) throw corrupt('checksum cut short')
    pos += CHECKSUM_BYTES
  }
  if (contentSize !== null && contentSize > outputBound) throw corrupt(`declares ${contentSize} bytes; its blocks hold at most ${outputBound}`)
  return { start, end: pos, contentSize, outputBound: contentSize ?? outputBound }
}

/**
 * The zstd frames of `data`, in order; skippable frames are checked and left out.
 * Throws CodecError when the input is empty, malformed or cut short, or when the
 * declared sizes add up to more than `maxBytes`.
 */
export function scanZstdFrames(data: Uint8Array, maxBytes: number): ZstdFrame[] {
  if (data.length === 0) throw corrupt('empty input')
  const frames: ZstdFrame[] = []
  let declared = 0
  let pos = 0
  while (pos < data.length) {
    if (data.length - pos < MAGIC_BYTES) throw corrupt('frame magic cut short')
    const magic = readLE(data, pos, MAGIC_BYTES)
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - pos < MAGIC_BYTES + 4) throw corrupt('skippable frame cut short')
      const size = readLE(data, pos + MAGIC_BYTES, 4)
      if (data.length - pos - MAGIC_BYTES - 4 < size) throw corrupt('skippable frame cut short')
      pos += MAGIC_BYTES + 4 + size
      continue
    }
    if (magic !== ZSTD_MAGIC) throw corrupt(pos === 0 ? 'not a zstd frame (bad magic)' : 'bytes after the last frame')
    const frame = scanFrame(data, pos, maxBytes - declared)
    declared += frame.contentSize ?? 0
    frames.push(frame)
    pos = frame.end
  }
  return frames
}
