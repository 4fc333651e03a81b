/**
 * Zigzag varints as Kafka's record format uses them (protobuf style): the signed value is
 * zigzag-mapped to an unsigned one, which is written 7 bits a byte, low bits first, with
 * the high bit of each byte set when more bytes follow.
 *
 * `varint` is for values that fit in int32 (bit operations); `varlong` is for the wider
 * values spool stores in a JS number (timestamp deltas), and uses arithmetic so that it
 * is exact up to 2^53.
 */

export function zigzagVarintSize(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  let size = 1
  while (v >= 0x80) {
    v >>>= 7
    size++
  }
  return size
}

export function writeZigzagVarint(buf: Uint8Array, pos: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buf[pos++] = v
  return pos
}

function zigzagLong(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1
}

export function zigzagVarlongSize(value: number): number {
  let v = zigzagLong(value)
  let size = 1
  while (v >= 0x80) {
    v = Math.floor(v / 128)
    size++
  }
  return size
}

export function writeZigzagVarlong(buf: Uint8Array, pos: number, value: number): number {
  let v = zigzagLong(value)
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80
    v = Math.floor(v / 128)
  }
  buf[pos++] = v
  return pos
}

/** The result of a varint read: the value, and the position just after it. */
export interface VarintRead {
  value: number
  next: number
}

/**
 * Reads a zigzag varint of at most 5 bytes (int32), or a varlong of at most 10 bytes.
 * Returns `null` when the bytes end first or the encoding is too long: the caller treats
 * that as a corrupt record.
 */
export function readZigzagVarlong(buf: Uint8Array, pos: number, end: number, out: VarintRead): boolean {
  let result = 0
  let multiplier = 1
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return false
    const byte = buf[pos++]!
    result += (byte & 0x7f) * multiplier
    if (byte < 0x80) {
      out.value = result % 2 === 0 ? result / 2 : -(result + 1) / 2
      out.next = pos
      return true
    }
    multiplier *= 128
  }
  return false
}
