import zlib from 'node:zlib'
import CRC32 from 'crc-32'

/**
 * The batch checksum: CRC-32 (IEEE), exactly as the `crc-32` package computes it, as an
 * unsigned 32-bit number. Node's zlib.crc32 (Node >= 20.15, 22.2) computes the same value
 * natively and about three times faster, so it is used where present; `crc-32` is the
 * reference (a test checks they agree) and the implementation on older Node 20 releases.
 */
type Crc32 = (bytes: Uint8Array) => number

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32

export const crc32Reference: Crc32 = (bytes) => CRC32.buf(bytes) >>> 0

export const crc32: Crc32 = nativeCrc32 === undefined ? crc32Reference : (bytes) => nativeCrc32(bytes) >>> 0
