/**
 * Where encoded batches live until they are written: carved one after another out of a
 * reusable slab, so that appending allocates no new memory per batch (a fresh buffer
 * per batch made the garbage collector a sixth of the append cost). A slab is reused
 * once every batch carved from it was released; a batch larger than half a slab gets a
 * buffer of its own.
 */
export const ARENA_SLAB_BYTES = 4 * 1024 * 1024

export class BatchArena {
  private slab = Buffer.allocUnsafe(ARENA_SLAB_BYTES)
  private used = 0
  private outstanding = 0

  allocate(size: number): Buffer {
    if (size > ARENA_SLAB_BYTES / 2) return Buffer.allocUnsafe(size)
    if (this.used + size > this.slab.length) {
      if (this.outstanding > 0) {
        // Batches still waiting to be written keep the old slab alive; start a new one.
        this.slab = Buffer.allocUnsafe(ARENA_SLAB_BYTES)
        this.outstanding = 0
      }
      this.used = 0
    }
    const view = this.slab.subarray(this.used, this.used + size)
    this.used += size
    this.outstanding++
    return view
  }

  /** The batch was written (or dropped): its bytes may be reused. */
  release(bytes: Buffer): void {
    if (bytes.buffer !== this.slab.buffer) return
    this.outstanding--
    if (this.outstanding === 0) this.used = 0
  }
}
