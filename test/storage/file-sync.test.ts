import { describe, expect, it } from 'vitest'
import { FileSync } from '../../src/storage/file-sync.js'
import type { StorageIO } from '../../src/storage/io.js'

/** An fdatasync whose calls the test completes or fails one by one. */
function scriptedSync(): { io: StorageIO; calls: Array<{ resolve: () => void; reject: (e: Error) => void }> } {
  const calls: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  const io = {
    fdatasync: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })),
  } as unknown as StorageIO
  return { io, calls }
}

describe('FileSync', () => {
  it('runs one fdatasync at a time, and counts as durable only what was written before it began', async () => {
    const { io, calls } = scriptedSync()
    const sync = new FileSync(io, () => 3, 0, false, () => undefined)
    sync.written(100)
    const first = sync.syncWritten()
    sync.written(200) // written while the first fsync runs: not covered by it
    const second = sync.syncWritten()
    await Promise.resolve()
    expect(calls).toHaveLength(1)
    calls[0]!.resolve()
    await first
    expect(sync.durable).toBe(100)
    await new Promise((resolve) => setImmediate(resolve))
    expect(calls).toHaveLength(2)
    calls[1]!.resolve()
    await second
    expect(sync.durable).toBe(200)
    await sync.syncWritten() // nothing new: no fsync
    expect(calls).toHaveLength(2)
  })

  it('after a failure, every waiter and every later call fails, even when nothing new was written', async () => {
    const { io, calls } = scriptedSync()
    const failures: unknown[] = []
    const sync = new FileSync(io, () => 3, 0, false, (error) => failures.push(error))
    sync.written(100)
    const a = sync.syncWritten()
    const b = sync.syncTo(100)
    await Promise.resolve()
    calls[0]!.reject(Object.assign(new Error('EIO'), { code: 'EIO' }))
    await expect(a).rejects.toThrow('EIO')
    await expect(b).rejects.toThrow('EIO')
    await expect(sync.syncTo(0)).rejects.toThrow('EIO')
    expect(sync.failed).toBe(true)
    expect(failures).toHaveLength(1)
    expect(calls).toHaveLength(1)
  })
})
