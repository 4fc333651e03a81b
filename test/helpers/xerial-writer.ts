import { createRequire } from 'node:module'
import {
  XERIAL_BLOCK_BYTES,
  XERIAL_CHUNK_LENGTH_BYTES,
  XERIAL_HEADER_BYTES,
  XERIAL_MAGIC,
  XERIAL_MIN_COMPATIBLE_VERSION,
  XERIAL_VERSION,
} from '../../src/record/compression/xerial.js'

const snappy = createRequire(import.meta.url)('snappy') as { compressSync(input: Uint8Array): Buffer }

/**
 * Snappy in xerial framing, as Kafka's Java client (snappy-java's SnappyOutputStream)
 * writes it: the input that spool must read although it writes raw snappy itself. Each
 * chunk's block comes from the `snappy` package directly, not from spool's codec.
 */
export function encodeXerial(data: Uint8Array, blockBytes = XERIAL_BLOCK_BYTES): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES)
  XERIAL_MAGIC.copy(header, 0)
  header.writeInt32BE(XERIAL_VERSION, 8)
  header.writeInt32BE(XERIAL_MIN_COMPATIBLE_VERSION, 12)
  const parts: Buffer[] = [header]
  for (let start = 0; start < data.length; start += blockBytes) {
    const block = snappy.compressSync(data.subarray(start, Math.min(start + blockBytes, data.length)))
    const length = Buffer.alloc(XERIAL_CHUNK_LENGTH_BYTES)
    length.writeInt32BE(block.length, 0)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}
