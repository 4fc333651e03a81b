import { CodecError, tooLarge } from './codec-error.js'

/**
 * Reading the snappy framing of snappy-java's SnappyOutputStream, which Kafka's Java
 * client writes for snappy batches (spool writes raw snappy; snappy.ts says why): a 16-byte header (magic, then int32 big-endian version and
 * minimum compatible version), then chunks of an int32 big-endian length and one raw
 * snappy block each.
 */

/** snappy-java's magic: 0x82 'SNAPPY' 0x00. */
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
/** The version snappy-java writes, and the oldest reader it says can read it; both are 1. */
export const XERIAL_VERSION = 1
export const XERIAL_MIN_COMPATIBLE_VERSION = 1
export const XERIAL_HEADER_BYTES = 16
/** snappy-java's default block size, which Kafka uses (it does not set one): each chunk holds 32 KiB of input. */
export const XERIAL_BLOCK_BYTES = 32 * 1024
export const XERIAL_CHUNK_LENGTH_BYTES = 4

export interface RawSnappy {
  compress(block: Uint8Array): Buffer
  /** Throws CodecError past `maxBytes` or on malformed input. */
  decompress(block: Uint8Array, maxBytes: number): Buffer
}

export function isXerial(data: Uint8Array): boolean {
  return data.length >= XERIAL_MAGIC.length && XERIAL_MAGIC.equals(data.subarray(0, XERIAL_MAGIC.length))
}

/** Checks a header at `at`; returns where the chunks after it start. */
function readHeader(data: Buffer, at: number): number {
  if (data.length - at < XERIAL_HEADER_BYTES) throw new CodecError('snappy', 'xerial header cut short')
  const minCompatible = data.readInt32BE(at + 12)
  if (minCompatible > XERIAL_VERSION) {
    throw new CodecError('snappy', `xerial stream needs a reader of version ${minCompatible}; this one is ${XERIAL_VERSION}`)
  }
  return at + XERIAL_HEADER_BYTES
}

/**
 * Reads every chunk. snappy-java also reads streams written by several
 * SnappyOutputStreams one after the other, so a header may follow a chunk; its first
 * four bytes read as a negative length, which no chunk has.
 */
export function decodeXerial(input: Uint8Array, maxBytes: number, raw: RawSnappy): Buffer {
  const data = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  const parts: Buffer[] = []
  let total = 0
  let pos = readHeader(data, 0)
  while (pos < data.length) {
    if (isXerial(data.subarray(pos))) {
      pos = readHeader(data, pos)
      continue
    }
    if (data.length - pos < XERIAL_CHUNK_LENGTH_BYTES) throw new CodecError('snappy', 'xerial chunk length cut short')
    const length = data.readInt32BE(pos)
    pos += XERIAL_CHUNK_LENGTH_BYTES
    if (length <= 0 || length > data.length - pos) throw new CodecError('snappy', `xerial chunk of ${length} bytes does not fit the input`)
    const block = raw.decompress(data.subarray(pos, pos + length), maxBytes - total)
    pos += length
    parts.push(block)
    total += block.length
    if (total > maxBytes) throw tooLarge('snappy', maxBytes)
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total)
}
