import { CodecError, tooLarge } from './codec-error.js'

/**
 * Raw snappy (one block, as librdkafka writes it and as each xerial chunk holds): a
 * varint of the uncompressed length, then literal and copy elements. This file reads it
 * strictly in plain TypeScript: the fallback's decoder, and the length check that guards
 * the native one.
 *
 * The decoder is ours rather than snappyjs's because snappyjs's does not check that the
 * elements fill the declared length: an input cut at an element boundary decodes, with
 * no error, to the right length padded with zeros (measured with snappyjs 0.7.0).
 */

/** The length is a varint of at most 32 bits, so of at most 5 bytes. */
const MAX_LENGTH_VARINT_BYTES = 5

/**
 * Runs shorter than this are copied byte by byte: for them a subarray and a call into
 * set/copyWithin cost more than the copy (335 against 234 MB/s on 1 MiB of JSON).
 */
const SHORT_COPY_BYTES = 16

export interface SnappyLength {
  readonly length: number
  /** Where the elements start, after the varint. */
  readonly start: number
}

/** The declared uncompressed length, checked against `maxBytes` before anything is allocated. */
export function readSnappyLength(block: Uint8Array, maxBytes: number): SnappyLength {
  let length = 0
  for (let i = 0; i < MAX_LENGTH_VARINT_BYTES && i < block.length; i++) {
    const byte = block[i]!
    length += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) {
      if (length > 0xffffffff) break
      if (length > maxBytes) throw tooLarge('snappy', maxBytes)
      return { length, start: i + 1 }
    }
  }
  throw new CodecError('snappy', block.length === 0 ? 'empty input' : 'malformed length header')
}

function corrupt(problem: string): CodecError {
  return new CodecError('snappy', `malformed input: ${problem}`)
}

/** Decodes one raw snappy block; every read and write is bounds-checked. */
export function decodeSnappyBlock(block: Uint8Array, maxBytes: number): Buffer {
  const { length, start } = readSnappyLength(block, maxBytes)
  const out = Buffer.allocUnsafe(length)
  const end = block.length
  let pos = start
  let outPos = 0
  while (pos < end) {
    const tag = block[pos++]!
    const kind = tag & 3
    if (kind === 0) {
      let len = (tag >>> 2) + 1
      if (len > 60) {
        const extra = len - 60
        if (end - pos < extra) throw corrupt('literal length cut short')
        len = 0
        for (let i = 0; i < extra; i++) len += block[pos + i]! * 2 ** (8 * i)
        len += 1
        pos += extra
      }
      if (len > end - pos) throw corrupt('literal runs past the input')
      if (len > length - outPos) throw corrupt('literal runs past the declared length')
      if (len < SHORT_COPY_BYTES) {
        for (let i = 0; i < len; i++) out[outPos + i] = block[pos + i]!
      } else {
        out.set(block.subarray(pos, pos + len), outPos)
      }
      pos += len
      outPos += len
      continue
    }
    let len: number
    let offset: number
    if (kind === 1) {
      if (end - pos < 1) throw corrupt('copy cut short')
      len = ((tag >>> 2) & 7) + 4
      offset = ((tag >>> 5) << 8) | block[pos]!
      pos += 1
    } else if (kind === 2) {
      if (end - pos < 2) throw corrupt('copy cut short')
      len = (tag >>> 2) + 1
      offset = block[pos]! | (block[pos + 1]! << 8)
      pos += 2
    } else {
      if (end - pos < 4) throw corrupt('copy cut short')
      len = (tag >>> 2) + 1
      offset = (block[pos]! | (block[pos + 1]! << 8) | (block[pos + 2]! << 16) | (block[pos + 3]! << 24)) >>> 0
      pos += 4
    }
    if (offset === 0 || offset > outPos) throw corrupt('copy from before the start')
    if (len > length - outPos) throw corrupt('copy runs past the declared length')
    if (offset >= len && len >= SHORT_COPY_BYTES) {
      out.copyWithin(outPos, outPos - offset, outPos - offset + len)
    } else {
      // Overlapping copies repeat the last `offset` bytes, so they go byte by byte.
      for (let i = 0; i < len; i++) out[outPos + i] = out[outPos - offset + i]!
    }
    outPos += len
  }
  if (outPos !== length) throw corrupt(`${outPos} of the declared ${length} bytes present`)
  return out
}
