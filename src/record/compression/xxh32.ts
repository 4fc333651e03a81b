/**
 * xxHash32, which the LZ4 frame format uses for its header, block and content checksums.
 * Ours because the fallback LZ4 codec is ours (see lz4.ts) and the checksum is small.
 */

const PRIME1 = 0x9e3779b1
const PRIME2 = 0x85ebca77
const PRIME3 = 0xc2b2ae3d
const PRIME4 = 0x27d4eb2f
const PRIME5 = 0x165667b1
/** The hash consumes its input in stripes of four 32-bit lanes. */
const STRIPE_BYTES = 16

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r))

function read32(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, PRIME2)) | 0, 13), PRIME1)
}

/** xxHash32 of `bytes[start, end)` with seed 0, as an unsigned 32-bit number. */
export function xxh32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const length = end - start
  let i = start
  let h: number
  if (length >= STRIPE_BYTES) {
    let v1 = (PRIME1 + PRIME2) | 0
    let v2 = PRIME2
    let v3 = 0
    let v4 = -PRIME1 | 0
    const limit = end - STRIPE_BYTES
    while (i <= limit) {
      v1 = round(v1, read32(bytes, i))
      v2 = round(v2, read32(bytes, i + 4))
      v3 = round(v3, read32(bytes, i + 8))
      v4 = round(v4, read32(bytes, i + 12))
      i += STRIPE_BYTES
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0
  } else {
    h = PRIME5
  }
  h = (h + length) | 0
  while (i + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(read32(bytes, i), PRIME3)) | 0, 17), PRIME4)
    i += 4
  }
  while (i < end) {
    h = Math.imul(rotl((h + Math.imul(bytes[i]!, PRIME5)) | 0, 11), PRIME1)
    i += 1
  }
  h = Math.imul(h ^ (h >>> 15), PRIME2)
  h = Math.imul(h ^ (h >>> 13), PRIME3)
  return (h ^ (h >>> 16)) >>> 0
}
