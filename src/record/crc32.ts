import { createRequire } from 'node:module'
import zlib from 'node:zlib'
import CRC32 from 'crc-32'
import { SIMD_CRC32_MIN_BYTES } from '../limits.js'

/**
 * The batch checksum: CRC-32 (IEEE), exactly as the `crc-32` package computes it, as an
 * unsigned 32-bit number. `crc-32` is the reference (a test checks every implementation
 * against it) and the implementation on older Node 20 releases. Faster ones compute the
 * same value:
 * - Node's zlib.crc32 (Node >= 20.15, 22.2): about 3x `crc-32` (4.4 against 1.4 GB/s).
 * - The optional dependency @node-rs/crc32 (SIMD, carry-less multiply): 16.6 against
 *   7.1 GB/s for zlib on a 128 KiB batch, measured on this project's machine. Each call
 *   crosses N-API, so below SIMD_CRC32_MIN_BYTES zlib is faster (127 bytes: 194 against
 *   104 ns), and small inputs keep using it. When the package has no binary for the
 *   platform it is simply absent.
 */
type Crc32 = (bytes: Uint8Array) => number

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32

export const crc32Reference: Crc32 = (bytes) => CRC32.buf(bytes) >>> 0

const zlibOrReference: Crc32 = nativeCrc32 === undefined ? crc32Reference : (bytes) => nativeCrc32(bytes) >>> 0

function loadSimdCrc32(): Crc32 | null {
  try {
    const simd = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32: (input: Uint8Array) => number }).crc32
    return (bytes) => simd(bytes) >>> 0
  } catch {
    return null
  }
}

/** The SIMD implementation, or null where the optional package is not installed. */
export const crc32Simd: Crc32 | null = loadSimdCrc32()

export const crc32: Crc32 =
  crc32Simd === null ? zlibOrReference : (bytes) => (bytes.length >= SIMD_CRC32_MIN_BYTES ? crc32Simd(bytes) : zlibOrReference(bytes))
