import fs from 'node:fs'
import { nodeIO, type StorageIO } from '../../src/storage/io.js'

type HeldOp = 'fdatasync' | 'read'

/**
 * The real file system, where the next fdatasync or read of a matching path can be held
 * until the test releases it — and then made to fail instead of running. This is how a
 * test puts two operations in a chosen overlap without depending on timing.
 */
export interface HeldIO extends StorageIO {
  /** Holds the `nth` next `op` on a path containing `path`; `entered` resolves once that call is held. */
  hold(op: HeldOp, path: string, nth?: number): { entered: Promise<void>; release(failWith?: 'EIO'): void }
  /**
   * Descriptor closes, fsyncs and fdatasyncs so far, by path, in call order (for ordering
   * checks); an fdatasync is noted with the file's size when it began: what it covers.
   */
  readonly events: string[]
}

interface Hold {
  op: HeldOp
  path: string
  /** Matching calls still to let through before the one held. */
  skip: number
  enter: () => void
  gate: Promise<'EIO' | undefined>
}

export function heldIO(inner: StorageIO = nodeIO): HeldIO {
  const paths = new Map<number, string>()
  const holds: Hold[] = []
  const events: string[] = []
  const held = async <T>(op: HeldOp, fd: number, run: () => Promise<T>): Promise<T> => {
    const path = paths.get(fd) ?? `fd:${fd}`
    const i = holds.findIndex((h) => h.op === op && path.includes(h.path) && h.skip-- === 0)
    if (i >= 0) {
      const [hold] = holds.splice(i, 1)
      hold!.enter()
      const errno = await hold!.gate
      if (errno !== undefined) throw Object.assign(new Error(`${errno}: injected failure, ${op} '${path}'`), { code: errno })
    }
    return run()
  }
  return {
    ...inner,
    open: async (path, flags) => {
      const fd = await inner.open(path, flags)
      paths.set(fd, path)
      return fd
    },
    events,
    close: async (fd) => {
      events.push(`close ${paths.get(fd) ?? fd}`)
      await inner.close(fd)
    },
    fsync: async (fd) => {
      await inner.fsync(fd)
      events.push(`fsync ${paths.get(fd) ?? fd}`)
    },
    fdatasync: (fd) => {
      // What it covers is what the file held when it was called, even if it is held.
      events.push(`fdatasync ${paths.get(fd) ?? fd} ${fs.fstatSync(fd).size}`)
      return held('fdatasync', fd, () => inner.fdatasync(fd))
    },
    read: (fd, buffer, offset, length, position) => held('read', fd, () => inner.read(fd, buffer, offset, length, position)),
    hold: (op, path, nth = 1) => {
      let enter!: () => void
      let release!: (errno: 'EIO' | undefined) => void
      const entered = new Promise<void>((resolve) => (enter = resolve))
      const gate = new Promise<'EIO' | undefined>((resolve) => (release = resolve))
      holds.push({ op, path, skip: nth - 1, enter, gate })
      return { entered, release: (failWith) => release(failWith) }
    },
  }
}
