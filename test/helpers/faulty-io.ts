import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import { type IOOp, wrapIO } from './wrap-io.js'

export type FaultOp = Extract<IOOp, 'open' | 'writev' | 'fdatasync' | 'fsync' | 'rename' | 'read' | 'ftruncate'>

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
  const armed: Array<Fault & { seen: number }> = []
  const state = { fired: 0 }
  /** Throws if an armed fault matches this call; returns a short-write length if one applies. */
  const trip = (op: IOOp, path: string): number | undefined => {
    const i = armed.findIndex((f) => f.op === op && (f.path === undefined || path.includes(f.path)) && ++f.seen >= (f.nth ?? 1))
    if (i < 0) return undefined
    const [fault] = armed.splice(i, 1)
    state.fired++
    if (fault!.shortBytes !== undefined) {
      // This call writes part of the data; the next write of the retry loop fails.
      armed.unshift({ op: fault!.op, errno: fault!.errno, seen: 0, ...(fault!.path === undefined ? {} : { path: fault!.path }) })
      return fault!.shortBytes
    }
    throw errnoError(fault!.errno, op, path)
  }
  const io = wrapIO(inner, trip) as FaultyIO
  io.arm = (fault) => {
    armed.push({ ...fault, seen: 0 })
  }
  Object.defineProperty(io, 'fired', { get: () => state.fired })
  return io
}
