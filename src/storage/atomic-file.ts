import path from 'node:path'
import { ioError } from '../errors.js'
import type { StorageIO } from './io.js'
import { tempPathOf } from './paths.js'

/** Makes a directory's entries (created, renamed, deleted files) survive power loss. */
export async function fsyncDirectory(io: StorageIO, dir: string): Promise<void> {
  let fd: number
  try {
    fd = await io.open(dir, 'r')
  } catch (error) {
    throw ioError('opening directory', dir, error)
  }
  try {
    await io.fsync(fd)
  } catch (error) {
    throw ioError('fsync of directory', dir, error)
  } finally {
    await io.close(fd).catch(() => undefined)
  }
}

/**
 * Creates `dir` and any missing parents so that they survive power loss: a new
 * directory's entry is durable only once its parent is fsynced, so each parent of one
 * this call created is. Returns whether it created `dir`.
 */
export async function createDirectoryDurably(io: StorageIO, dir: string): Promise<boolean> {
  const missing: string[] = []
  for (let at = path.resolve(dir); !(await directoryExists(io, at)); at = path.dirname(at)) {
    missing.push(at)
    if (path.dirname(at) === at) break
  }
  if (missing.length === 0) return false
  try {
    await io.mkdirp(dir)
  } catch (error) {
    throw ioError('creating directory', dir, error)
  }
  for (const created of missing) await fsyncDirectory(io, path.dirname(created))
  return true
}

async function directoryExists(io: StorageIO, dir: string): Promise<boolean> {
  try {
    await io.readdir(dir)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw ioError('looking for directory', dir, error)
  }
}

/** Writes all of `buffers` at `position`, looping over short writes. */
export async function writeFully(io: StorageIO, fd: number, buffers: Buffer[], position: number): Promise<void> {
  let remaining = buffers.filter((buffer) => buffer.length > 0)
  let at = position
  while (remaining.length > 0) {
    const written = await io.writev(fd, remaining, at)
    at += written
    remaining = afterWrite(remaining, written)
  }
}

/**
 * The same on the calling thread. Appends use it: a write into the page cache takes
 * microseconds, less than the round trip through libuv's threadpool, and the append
 * that follows can then be encoded while the fsync of this one runs.
 */
export function writeFullySync(io: StorageIO, fd: number, buffers: Buffer[], position: number): void {
  let remaining = buffers.filter((buffer) => buffer.length > 0)
  let at = position
  while (remaining.length > 0) {
    const written = io.writevSync(fd, remaining, at)
    at += written
    remaining = afterWrite(remaining, written)
  }
}

/** What is left to write after a (possibly short) write of `written` bytes. */
function afterWrite(buffers: Buffer[], written: number): Buffer[] {
  if (written <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
  return dropBytes(buffers, written)
}

function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = []
  let skip = count
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length
      continue
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer)
    skip = 0
  }
  return rest
}

/** Writes `contents` as the whole of `file` and fsyncs it (its directory entry is the caller's). */
export async function writeFileDurable(io: StorageIO, file: string, contents: Buffer): Promise<void> {
  let fd: number
  try {
    fd = await io.open(file, 'w')
  } catch (error) {
    throw ioError('creating', file, error)
  }
  try {
    await writeFully(io, fd, [contents], 0)
    await io.fsync(fd)
  } catch (error) {
    throw ioError('writing', file, error)
  } finally {
    await io.close(fd).catch(() => undefined)
  }
}

/**
 * Replaces `file` with `contents` so that a crash leaves either the old or the new file,
 * never a mix: write aside, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(io: StorageIO, file: string, contents: Buffer): Promise<void> {
  const temp = tempPathOf(file)
  await writeFileDurable(io, temp, contents)
  try {
    await io.rename(temp, file)
  } catch (error) {
    throw ioError('renaming into place', file, error)
  }
  await fsyncDirectory(io, path.dirname(file))
}

/** A small file's contents, or null when it is absent; a failed read is IO_ERROR (`doing` names it). */
export async function readFileOrNull(io: StorageIO, file: string, doing = 'reading'): Promise<Buffer | null> {
  try {
    return await io.readFileIfExists(file)
  } catch (error) {
    throw ioError(doing, file, error)
  }
}

/** Reads and parses a small JSON file; null when absent or unreadable as JSON. */
export async function readJsonFile(io: StorageIO, file: string): Promise<unknown> {
  const contents = await readFileOrNull(io, file)
  return contents === null ? null : parseJsonOrNull(contents)
}

/** The JSON value of a small file's contents, or null when they are not JSON. */
export function parseJsonOrNull(contents: Buffer): unknown {
  try {
    return JSON.parse(contents.toString('utf8')) as unknown
  } catch {
    return null
  }
}
