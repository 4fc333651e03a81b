import type { ReadBuffers } from '../../storage/log-scanner.js'

/**
 * Buffers that Fetch reads stored batches into, taken back once the response that sent
 * them was written to the socket. A fresh 1 MiB buffer per fetch made the garbage collector
 * the largest cost of serving fetches (external memory drives full collections: 275 ms of
 * 600 ms of work for three passes over 262 MB, profiled in `spool serve`).
 *
 * A buffer is lent to one response only, and handed out again only after that response's
 * bytes left for the kernel. One read ahead belongs to no response until a fetch takes
 * it; another reader that takes it keeps it, and the pool never lends it again.
 */
export class ReadBufferPool {
  private readonly free: Buffer[] = []
  private freeBytes = 0
  /** Buffers lent out, by their memory: what `giveBack` accepts. */
  private readonly lent = new WeakMap<ArrayBufferLike, Buffer>()

  constructor(
    /** Buffers are made at least this large, so that one size serves the usual fetch. */
    private readonly unitBytes: number,
    /** Bytes of free buffers kept at most; more (and larger ones) are left to the garbage collector. */
    private readonly maxFreeBytes: number,
  ) {}

  /** The smallest free buffer that fits, so that a small read does not hold a large one; else a new one. */
  take(size: number): Buffer {
    let index = -1
    for (let i = 0; i < this.free.length; i++) {
      const length = this.free[i]!.length
      if (length >= size && (index < 0 || length < this.free[index]!.length)) index = i
    }
    let buffer: Buffer
    if (index >= 0) {
      buffer = this.free.splice(index, 1)[0]!
      this.freeBytes -= buffer.length
    } else {
      buffer = Buffer.allocUnsafeSlow(Math.ceil(size / this.unitBytes) * this.unitBytes)
    }
    this.lent.set(buffer.buffer, buffer)
    return buffer.subarray(0, size)
  }

  /** The response holding `view` (a view of a lent buffer) was written: its buffer may be lent again. */
  giveBack(view: Buffer): void {
    const buffer = this.lent.get(view.buffer)
    if (buffer === undefined) return
    this.lent.delete(view.buffer)
    if (this.freeBytes + buffer.length > this.maxFreeBytes) return
    this.free.push(buffer)
    this.freeBytes += buffer.length
  }
}

/**
 * What one Fetch took from a pool: given back together when its response was sent. A
 * buffer it reads ahead into (`lend`) is not its own: the next fetch that takes it adopts
 * it, and a reader that takes it without giving anything back keeps it from the pool.
 */
export class ReadBufferLease implements ReadBuffers {
  private readonly taken: Buffer[] = []
  readonly allocate = (size: number): Buffer => {
    const buffer = this.pool.take(size)
    this.taken.push(buffer)
    return buffer
  }
  readonly lend = (size: number): Buffer => this.pool.take(size)

  constructor(private readonly pool: ReadBufferPool) {}

  adopt(buffer: Buffer): void {
    this.taken.push(buffer)
  }

  giveBackAll(): void {
    for (const buffer of this.taken.splice(0)) this.pool.giveBack(buffer)
  }
}
