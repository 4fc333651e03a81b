import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import { type IOOp, wrapIO } from './wrap-io.js'

/** Wraps the real file system and records, per call kind, the paths it touched. */
export interface CountingIO extends StorageIO {
  calls: Array<{ op: IOOp; path: string }>
  count(op: IOOp, pathPart?: string): number
  reset(): void
}

export function countingIO(inner: StorageIO = nodeIO): CountingIO {
  const calls: Array<{ op: IOOp; path: string }> = []
  const io = wrapIO(inner, (op, path) => {
    calls.push({ op, path })
    return undefined
  })
  return {
    ...io,
    calls,
    count: (op, pathPart) => calls.filter((c) => c.op === op && (pathPart === undefined || c.path.includes(pathPart))).length,
    reset: () => {
      calls.length = 0
    },
  }
}
