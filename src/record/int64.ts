/**
 * int64 fields stored in a JS number: exact for |value| < 2^53, which covers offsets,
 * millisecond timestamps and Kafka's -1 sentinels. Faster than BigInt on the hot path.
 */
const TWO_32 = 4294967296

export function writeInt64(buf: Buffer, pos: number, value: number): void {
  const high = Math.floor(value / TWO_32)
  buf.writeInt32BE(high, pos)
  buf.writeUInt32BE(value - high * TWO_32, pos + 4)
}

export function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4)
}
