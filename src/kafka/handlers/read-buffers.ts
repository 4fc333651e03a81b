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
  /** Buffers lent out, by their memory: what `giveBack` accepts. */
  private readonly lent = new WeakMap<ArrayBufferLike, Buffer>()

  constructor(
    /** Buffers are made at least this large, so that one size serves the usual fetch. */
    private readonly unitBytes: number,
    /** Free buffers kept at most; more are left to the garbage collector. */
    private readonly maxFree: number,
  ) {}

  take(size: number): Buffer {
    const index = this.free.findIndex((buffer) => buffer.length >= size)
    const buffer = index >= 0 ? this.free.splice(index, 1)[0]! : Buffer.allocUnsafeSlow(Math.ceil(size / this.unitBytes) * this.unitBytes)
    this.lent.set(buffer.buffer, buffer)
    return buffer.subarray(0, size)
  }

  /** The response holding `view` (a view of a lent buffer) was written: its buffer may be lent again. */
  giveBack(view: Buffer): void {
    const buffer = this.lent.get(view.buffer)
    if (buffer === undefined) return
    this.lent.delete(view.buffer)
    if (this.free.length < this.maxFree) this.free.push(buffer)
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
