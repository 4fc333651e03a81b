import fs from 'node:fs'
import path from 'node:path'
import { nodeIO } from '../../src/storage/io.js'
import { readLogPosition } from '../../src/storage/log-files.js'
import { RECOVERY_CHECKPOINT_FILE, parseSegmentFileName } from '../../src/storage/paths.js'
import { timed } from './timing.js'

/** The `.log` files of a partition directory with their base offsets, oldest segment first. */
function segmentLogs(dir: string): Array<{ file: string; baseOffset: number }> {
  return fs
    .readdirSync(dir)
    .map((name) => ({ file: path.join(dir, name), parsed: parseSegmentFileName(name) }))
    .filter(({ parsed }) => parsed?.kind === 'log')
    .map(({ file, parsed }) => ({ file, baseOffset: parsed!.baseOffset }))
    .sort((a, b) => a.baseOffset - b.baseOffset)
}

/** The `.log` files of a partition directory, oldest segment first. */
export function segmentLogFiles(dir: string): string[] {
  return segmentLogs(dir).map(({ file }) => file)
}

export function totalBytes(files: readonly string[]): number {
  return files.reduce((sum, file) => sum + fs.statSync(file).size, 0)
}

export interface LogExtent {
  /** Bytes of all the partition's `.log` files. */
  bytes: number
  /**
   * Bytes past the recovery point on disk: what recovery after a crash scans (contract
   * 4). The whole log when there is no recovery point.
   */
  pastRecoveryPoint: number
}

/** How large a partition directory's log is, and how much of it recovery would scan now. */
export async function logExtent(dir: string): Promise<LogExtent> {
  const point = await readLogPosition(nodeIO, path.join(dir, RECOVERY_CHECKPOINT_FILE))
  let bytes = 0
  let pastRecoveryPoint = 0
  for (const { file, baseOffset: base } of segmentLogs(dir)) {
    const size = fs.statSync(file).size
    bytes += size
    if (point === null || base > point.segmentBase) pastRecoveryPoint += size
    else if (base === point.segmentBase) pastRecoveryPoint += Math.max(0, size - point.position)
  }
  return { bytes, pastRecoveryPoint }
}

/** Reads the files front to back into one reused buffer; returns the bytes read. */
export function readFiles(files: readonly string[], buffer: Buffer): number {
  let total = 0
  for (const file of files) {
    const fd = fs.openSync(file, 'r')
    try {
      for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0; ) total += n
    } finally {
      fs.closeSync(fd)
    }
  }
  return total
}

/**
 * The raw twin of a read workload: one sequential fs.readSync pass over `files` into
 * `buffer`, checked against the `bytes` they hold; resolves with its seconds.
 */
export async function rawReadPass(files: readonly string[], buffer: Buffer, bytes: number): Promise<number> {
  let read = 0
  const seconds = await timed(() => {
    read = readFiles(files, buffer)
  })
  if (read !== bytes) throw new Error(`raw read ${read} bytes, expected ${bytes}`)
  return seconds
}
