/**
 * Builds an encoded message as a list of chunks for `socket.writev`-style output. Small
 * fields are packed into a scratch buffer; a buffer of at least REFERENCE_MIN_BYTES (a
 * Fetch response's stored batches, a Produce request's records) is appended by
 * reference, so the bytes read from a segment go to the socket without a copy.
 *
 * The grammar written is the reader's (see reader.ts).
 */

/** Scratch space allocated at a time for small fields. */
const SCRATCH_BYTES = 4096
/**
 * Buffers at least this large are kept as their own chunk instead of copied: below it a
 * copy costs less than the extra chunk does in the socket write.
 */
const REFERENCE_MIN_BYTES = 512
const INT16_MAX = 0x7fff
const UUID_BYTES = 16

export class Writer {
  private readonly chunks: Buffer[] = []
  private scratch: Buffer
  /** Where the unsealed part of `scratch` starts and where the next byte goes. */
  private start = 0
  private position = 0
  private sealedBytes = 0
  private readonly first: Buffer
  private readonly sizePrefixed: boolean

  /** `sizePrefixed`: the output starts with an INT32 holding the size of everything after it. */
  constructor(options: { sizePrefixed?: boolean } = {}) {
    this.scratch = Buffer.allocUnsafe(SCRATCH_BYTES)
    this.first = this.scratch
    this.sizePrefixed = options.sizePrefixed ?? false
    if (this.sizePrefixed) this.int32(0) // patched by finish()
  }

  /** Bytes written so far (including a size prefix). */
  get size(): number {
    return this.sealedBytes + (this.position - this.start)
  }

  /** The encoded chunks, in order. The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.seal()
    if (this.sizePrefixed) this.first.writeInt32BE(this.sealedBytes - 4, 0)
    return this.chunks
  }

  /** Appends another writer's output (a tagged field encoded to learn its size). */
  append(other: Writer): this {
    for (const chunk of other.finish()) this.buffer(chunk)
    return this
  }

  /**
   * Where the next `count` bytes go in the scratch buffer, starting a new one when they do
   * not fit: callers take the position before naming `this.scratch`, which this may replace.
   */
  private room(count: number): number {
    if (this.position + count > this.scratch.length) {
      this.seal()
      this.scratch = Buffer.allocUnsafe(Math.max(SCRATCH_BYTES, count))
      this.start = 0
      this.position = 0
    }
    const at = this.position
    this.position += count
    return at
  }

  private seal(): void {
    if (this.position > this.start) {
      this.chunks.push(this.scratch.subarray(this.start, this.position))
      this.sealedBytes += this.position - this.start
      this.start = this.position
    }
  }

  int8(value: number): this {
    const at = this.room(1)
    this.scratch.writeInt8(value, at)
    return this
  }

  int16(value: number): this {
    const at = this.room(2)
    this.scratch.writeInt16BE(value, at)
    return this
  }

  uint16(value: number): this {
    const at = this.room(2)
    this.scratch.writeUInt16BE(value, at)
    return this
  }

  int32(value: number): this {
    const at = this.room(4)
    this.scratch.writeInt32BE(value, at)
    return this
  }

  uint32(value: number): this {
    const at = this.room(4)
    this.scratch.writeUInt32BE(value, at)
    return this
  }

  int64(value: number | bigint): this {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`int64 ${value} is not a safe integer`)
    const at = this.room(8)
    this.scratch.writeBigInt64BE(BigInt(value), at)
    return this
  }

  float64(value: number): this {
    const at = this.room(8)
    this.scratch.writeDoubleBE(value, at)
    return this
  }

  bool(value: boolean): this {
    return this.int8(value ? 1 : 0)
  }

  uuid(value: Buffer): this {
    if (!Buffer.isBuffer(value) || value.length !== UUID_BYTES) throw new TypeError(`a uuid is a ${UUID_BYTES}-byte Buffer`)
    const at = this.room(UUID_BYTES)
    value.copy(this.scratch, at)
    return this
  }

  uvarint(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`unsigned varint ${value} is not a uint32`)
    let rest = value
    while (rest >= 0x80) {
      const at = this.room(1)
      this.scratch.writeUInt8((rest & 0x7f) | 0x80, at)
      rest = Math.floor(rest / 128)
    }
    const at = this.room(1)
    this.scratch.writeUInt8(rest, at)
    return this
  }

  varint(value: number): this {
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) throw new RangeError(`varint ${value} is not an int32`)
    return this.uvarint(value >= 0 ? value * 2 : -value * 2 - 1)
  }

  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1)
    const length = Buffer.byteLength(value, 'utf8')
    if (length > INT16_MAX) throw new RangeError(`a string of ${length} bytes does not fit an INT16 length`)
    this.int16(length)
    const at = this.room(length)
    this.scratch.write(value, at, length, 'utf8')
    return this
  }

  compactNullableString(value: string | null): this {
    if (value === null) return this.uvarint(0)
    const length = Buffer.byteLength(value, 'utf8')
    this.uvarint(length + 1)
    const at = this.room(length)
    this.scratch.write(value, at, length, 'utf8')
    return this
  }

  /** INT32 length (-1 for null), then the bytes; chunks are sent as they are. */
  nullableBytes(value: Buffer | readonly Buffer[] | null): this {
    if (value === null) return this.int32(-1)
    this.int32(totalLength(value))
    return this.buffers(value)
  }

  compactNullableBytes(value: Buffer | readonly Buffer[] | null): this {
    if (value === null) return this.uvarint(0)
    this.uvarint(totalLength(value) + 1)
    return this.buffers(value)
  }

  /** Raw bytes with no length: copied when small, else kept by reference. */
  buffer(value: Buffer): this {
    if (value.length >= REFERENCE_MIN_BYTES) {
      this.seal()
      this.chunks.push(value)
      this.sealedBytes += value.length
    } else if (value.length > 0) {
      const at = this.room(value.length)
      value.copy(this.scratch, at)
    }
    return this
  }

  private buffers(value: Buffer | readonly Buffer[]): this {
    if (Buffer.isBuffer(value)) return this.buffer(value)
    for (const chunk of value) this.buffer(chunk)
    return this
  }
}

function totalLength(value: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(value)) return value.length
  let total = 0
  for (const chunk of value) {
    if (!Buffer.isBuffer(chunk)) throw new TypeError('record chunks must be Buffers')
    total += chunk.length
  }
  return total
}
