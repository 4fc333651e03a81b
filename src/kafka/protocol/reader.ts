import { ProtocolError } from './protocol-error.js'

/**
 * A cursor over one frame that never reads past its end. Every length read from the
 * wire is checked against the bytes left before anything is sliced or allocated, so a
 * frame that claims a 2 GiB string costs nothing but a ProtocolError.
 *
 * Byte and record fields are returned as views (`subarray`) of the frame, never copies:
 * a Produce request's batches reach the log as the bytes the client sent.
 *
 * Wire grammar (Kafka's protocol guide, "Protocol Primitive Types"):
 *   INT8/16/32/64, UINT16/32   big-endian, two's complement
 *   UNSIGNED_VARINT            7 bits a byte, low first, high bit = more (at most 5 bytes here)
 *   VARINT                     zigzag-encoded UNSIGNED_VARINT
 *   STRING / NULLABLE_STRING   INT16 length (-1 = null), UTF-8 bytes
 *   COMPACT_(NULLABLE_)STRING  UNSIGNED_VARINT length + 1 (0 = null), UTF-8 bytes
 *   BYTES / NULLABLE_BYTES     INT32 length (-1 = null), bytes
 *   COMPACT_(NULLABLE_)BYTES   UNSIGNED_VARINT length + 1 (0 = null), bytes
 *   ARRAY                      INT32 count (-1 = null), elements
 *   COMPACT_ARRAY              UNSIGNED_VARINT count + 1 (0 = null), elements
 *   UUID                       16 bytes;  FLOAT64  IEEE 754 big-endian;  BOOLEAN  INT8, non-zero = true
 */

/** A 32-bit unsigned varint takes at most five bytes (7 bits each). */
const UVARINT32_MAX_BYTES = 5
const UUID_BYTES = 16

export class Reader {
  private position: number

  constructor(
    readonly buffer: Buffer,
    offset = 0,
    /** One past the last byte this reader may read. */
    readonly end = buffer.length,
  ) {
    if (offset < 0 || end > buffer.length || offset > end) throw new RangeError(`reader bounds ${offset}..${end} outside a ${buffer.length}-byte buffer`)
    this.position = offset
  }

  get offset(): number {
    return this.position
  }

  get remaining(): number {
    return this.end - this.position
  }

  /** Claims the next `count` bytes, or throws if the frame ends before them. */
  private take(count: number, what: string): number {
    if (count > this.end - this.position) {
      throw new ProtocolError(`${what} needs ${count} bytes but only ${this.end - this.position} are left`)
    }
    const at = this.position
    this.position += count
    return at
  }

  skip(count: number): void {
    this.take(count, 'skipped field')
  }

  /** A reader over the next `count` bytes; this reader moves past them. */
  sub(count: number): Reader {
    const at = this.take(count, 'tagged field')
    return new Reader(this.buffer, at, at + count)
  }

  int8(): number {
    return this.buffer.readInt8(this.take(1, 'int8'))
  }

  int16(): number {
    return this.buffer.readInt16BE(this.take(2, 'int16'))
  }

  uint16(): number {
    return this.buffer.readUInt16BE(this.take(2, 'uint16'))
  }

  int32(): number {
    return this.buffer.readInt32BE(this.take(4, 'int32'))
  }

  uint32(): number {
    return this.buffer.readUInt32BE(this.take(4, 'uint32'))
  }

  /** Int64 as a JS number: offsets, timestamps and producer ids all stay below 2^53. */
  int64(): number {
    const value = this.buffer.readBigInt64BE(this.take(8, 'int64'))
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ProtocolError(`int64 ${value} is outside the safe integer range spool supports`)
    }
    return Number(value)
  }

  float64(): number {
    return this.buffer.readDoubleBE(this.take(8, 'float64'))
  }

  bool(): boolean {
    return this.buffer.readInt8(this.take(1, 'bool')) !== 0
  }

  uuid(): Buffer {
    const at = this.take(UUID_BYTES, 'uuid')
    // A copy: 16 bytes must not keep a whole request frame alive.
    return Buffer.from(this.buffer.subarray(at, at + UUID_BYTES))
  }

  uvarint(): number {
    let value = 0
    for (let i = 0; i < UVARINT32_MAX_BYTES; i++) {
      const byte = this.buffer.readUInt8(this.take(1, 'unsigned varint'))
      // The fifth byte may carry only the top 4 bits of a 32-bit value.
      if (i === UVARINT32_MAX_BYTES - 1 && byte > 0x0f) throw new ProtocolError('unsigned varint does not fit in 32 bits')
      value += (byte & 0x7f) * 2 ** (7 * i)
      if ((byte & 0x80) === 0) return value
    }
    throw new ProtocolError(`unsigned varint longer than ${UVARINT32_MAX_BYTES} bytes`)
  }

  varint(): number {
    const zigzag = this.uvarint()
    return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2
  }

  /** INT16 length, -1 for null. */
  nullableString(): string | null {
    const length = this.int16()
    if (length === -1) return null
    if (length < 0) throw new ProtocolError(`string length ${length} is negative`)
    return this.utf8(length)
  }

  string(): string {
    return nonNull(this.nullableString(), 'string')
  }

  /** UNSIGNED_VARINT length + 1, 0 for null. */
  compactNullableString(): string | null {
    const lengthPlusOne = this.uvarint()
    return lengthPlusOne === 0 ? null : this.utf8(lengthPlusOne - 1)
  }

  compactString(): string {
    return nonNull(this.compactNullableString(), 'compact string')
  }

  /** INT32 length, -1 for null; a view of the frame. */
  nullableBytes(): Buffer | null {
    const length = this.int32()
    if (length === -1) return null
    if (length < 0) throw new ProtocolError(`bytes length ${length} is negative`)
    return this.view(length, 'bytes')
  }

  bytes(): Buffer {
    return nonNull(this.nullableBytes(), 'bytes')
  }

  compactNullableBytes(): Buffer | null {
    const lengthPlusOne = this.uvarint()
    return lengthPlusOne === 0 ? null : this.view(lengthPlusOne - 1, 'compact bytes')
  }

  compactBytes(): Buffer {
    return nonNull(this.compactNullableBytes(), 'compact bytes')
  }

  /**
   * An INT32 array count, -1 for null. Each element takes at least `minElementBytes`
   * (at least one), so a count the remaining bytes cannot hold is refused before any
   * array is allocated.
   */
  arrayLength(minElementBytes: number): number | null {
    const count = this.int32()
    if (count === -1) return null
    if (count < 0) throw new ProtocolError(`array length ${count} is negative`)
    return this.checkCount(count, minElementBytes)
  }

  /** An UNSIGNED_VARINT count + 1, 0 for null. */
  compactArrayLength(minElementBytes: number): number | null {
    const countPlusOne = this.uvarint()
    return countPlusOne === 0 ? null : this.checkCount(countPlusOne - 1, minElementBytes)
  }

  array<T>(readElement: (reader: Reader) => T, minElementBytes: number): T[] | null {
    return this.elements(this.arrayLength(minElementBytes), readElement)
  }

  compactArray<T>(readElement: (reader: Reader) => T, minElementBytes: number): T[] | null {
    return this.elements(this.compactArrayLength(minElementBytes), readElement)
  }

  /**
   * A tagged-field section: UNSIGNED_VARINT count, then per field UNSIGNED_VARINT tag,
   * UNSIGNED_VARINT size and `size` bytes, tags strictly ascending. `readField` gets a
   * reader bounded to the field's bytes and returns whether it knew the tag; unknown
   * fields are skipped, as Kafka requires.
   */
  taggedFields(readField: (tag: number, field: Reader) => boolean): void {
    // Each tagged field takes at least two bytes (its tag and its size).
    const count = this.checkCount(this.uvarint(), 2)
    let previousTag = -1
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint()
      if (tag <= previousTag) throw new ProtocolError(`tagged field ${tag} follows tag ${previousTag}; tags must be ascending and unique`)
      previousTag = tag
      const field = this.sub(this.uvarint())
      if (readField(tag, field) && field.remaining !== 0) {
        throw new ProtocolError(`tagged field ${tag} has ${field.remaining} bytes after its value`)
      }
    }
  }

  private checkCount(count: number, minElementBytes: number): number {
    if (count * Math.max(1, minElementBytes) > this.remaining) {
      throw new ProtocolError(`array of ${count} elements cannot fit in the ${this.remaining} bytes left`)
    }
    return count
  }

  private elements<T>(count: number | null, readElement: (reader: Reader) => T): T[] | null {
    if (count === null) return null
    const out = new Array<T>(count)
    for (let i = 0; i < count; i++) out[i] = readElement(this)
    return out
  }

  private utf8(length: number): string {
    const at = this.take(length, 'string')
    return this.buffer.toString('utf8', at, at + length)
  }

  private view(length: number, what: string): Buffer {
    const at = this.take(length, what)
    return this.buffer.subarray(at, at + length)
  }
}

function nonNull<T>(value: T | null, what: string): T {
  if (value === null) throw new ProtocolError(`${what} is null where null is not allowed`)
  return value
}
