import fs from 'node:fs'
import path from 'node:path'
import { parseSegmentFileName } from '../../src/storage/paths.js'

/** The `.log` files of a partition directory, oldest segment first. */
export function segmentLogFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .map((name) => ({ name, parsed: parseSegmentFileName(name) }))
    .filter(({ parsed }) => parsed?.kind === 'log')
    .sort((a, b) => a.parsed!.baseOffset - b.parsed!.baseOffset)
    .map(({ name }) => path.join(dir, name))
}

export function totalBytes(files: readonly string[]): number {
  return files.reduce((sum, file) => sum + fs.statSync(file).size, 0)
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
