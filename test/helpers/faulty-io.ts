import { type StorageIO, nodeIO } from '../../src/storage/io.js'

export type FaultOp = 'open' | 'writev' | 'fdatasync' | 'fsync' | 'rename' | 'read' | 'ftruncate'

export interface Fault {
  op: FaultOp
  /** Only calls whose path contains this (descriptors are mapped back to their paths). */
  path?: string
  /** Fail the nth matching call from when the fault is armed (1 = the next one). */
  nth?: number
  errno: 'EIO' | 'ENOSPC'
  /** For writev: write this many bytes first (a short write), then fail the call after it. */
  shortBytes?: number
}

export interface FaultyIO extends StorageIO {
  /** Arms a fault; it fires once. */
  arm(fault: Fault): void
  /** How many armed faults have fired. */
  fired: number
}

function errnoError(errno: string, op: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${errno}: injected failure, ${op} '${path}'`), { code: errno, errno: -1, syscall: op, path })
}

/**
 * The real file system, with faults injected on demand: the Nth open, write, fsync,
 * rename, read or truncate of a matching path fails with EIO or ENOSPC, or a write is
 * cut short. This is the seam the storage layer does all its I/O through.
 */
export function faultyIO(inner: StorageIO = nodeIO): FaultyIO {
  const paths = new Map<number, string>()
  const armed: Array<Fault & { seen: number }> = []
  const io: FaultyIO = {
    fired: 0,
    arm: (fault) => {
      armed.push({ ...fault, seen: 0 })
    },
    open: async (path, flags) => {
      trip('open', path)
      const fd = await inner.open(path, flags)
      paths.set(fd, path)
      return fd
    },
    close: async (fd) => {
      paths.delete(fd)
      await inner.close(fd)
    },
    writev: async (fd, buffers, position) => {
      const short = trip('writev', paths.get(fd) ?? '')
      return short === undefined ? inner.writev(fd, buffers, position) : inner.writev(fd, [Buffer.concat(buffers).subarray(0, short)], position)
    },
    writevSync: (fd, buffers, position) => {
      const short = trip('writev', paths.get(fd) ?? '')
      return short === undefined ? inner.writevSync(fd, buffers, position) : inner.writevSync(fd, [Buffer.concat(buffers).subarray(0, short)], position)
    },
    read: async (fd, buffer, offset, length, position) => {
      trip('read', paths.get(fd) ?? '')
      return inner.read(fd, buffer, offset, length, position)
    },
    fdatasync: async (fd) => {
      trip('fdatasync', paths.get(fd) ?? '')
      await inner.fdatasync(fd)
    },
    fsync: async (fd) => {
      trip('fsync', paths.get(fd) ?? '')
      await inner.fsync(fd)
    },
    ftruncate: async (fd, length) => {
      trip('ftruncate', paths.get(fd) ?? '')
      await inner.ftruncate(fd, length)
    },
    rename: async (from, to) => {
      trip('rename', to)
      await inner.rename(from, to)
    },
    fstatSize: (fd) => inner.fstatSize(fd),
    statSize: (path) => inner.statSize(path),
    readdir: (path) => inner.readdir(path),
    mkdirp: (path) => inner.mkdirp(path),
    unlink: (path) => inner.unlink(path),
    readFileIfExists: (path) => inner.readFileIfExists(path),
  }
  /** Throws if an armed fault matches this call; returns a short-write length if one applies. */
  function trip(op: FaultOp, path: string): number | undefined {
    const i = armed.findIndex((f) => f.op === op && (f.path === undefined || path.includes(f.path)) && ++f.seen >= (f.nth ?? 1))
    if (i < 0) return undefined
    const [fault] = armed.splice(i, 1)
    io.fired++
    if (fault!.shortBytes !== undefined) {
      // This call writes part of the data; the next write of the retry loop fails.
      armed.unshift({ op, errno: fault!.errno, seen: 0, ...(fault!.path === undefined ? {} : { path: fault!.path }) })
      return fault!.shortBytes
    }
    throw errnoError(fault!.errno, op, path)
  }
  return io
}
