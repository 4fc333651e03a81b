import fs from 'node:fs'
import { lockDirectoryWithKernel } from './kernel-lock.js'

/** A lock the kernel holds for this process and drops when the process dies. */
export interface HeldLock {
  release(): Promise<void>
}

/**
 * Every file-system call the storage layer makes goes through this interface, so that a
 * test can wrap it to count calls or to fail the Nth one with EIO or ENOSPC (the fault
 * seam), or replace it whole with a simulated disk that forgets what was not fsync'ed
 * (test/sim/). Positions and lengths are in bytes; descriptors are plain numbers.
 *
 * It is built on `node:fs`, not fs-extra: graceful-fs (under fs-extra) retries EMFILE
 * for up to a minute, which turns a descriptor leak into a hang.
 */
export interface StorageIO {
  open(path: string, flags: string): Promise<number>
  close(fd: number): Promise<void>
  /** Writes once; may write less than asked (the caller loops). */
  writev(fd: number, buffers: Buffer[], position: number): Promise<number>
  /** The same on the calling thread (see appendToLog for why appends use it). */
  writevSync(fd: number, buffers: Buffer[], position: number): number
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>
  /** The same on the calling thread: for the active segment's tail, just written and in the page cache. */
  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number
  fdatasync(fd: number): Promise<void>
  fsync(fd: number): Promise<void>
  ftruncate(fd: number, length: number): Promise<void>
  fstatSize(fd: number): Promise<number>
  statSize(path: string): Promise<number>
  readdir(path: string): Promise<string[]>
  mkdirp(path: string): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  /** Removes a directory and everything in it; absent is fine. */
  removeTree(path: string): Promise<void>
  /** The whole file, or null when it does not exist. */
  readFileIfExists(path: string): Promise<Buffer | null>
  /**
   * Takes the exclusive writer's lock of `dir`, held by the kernel for this process (so a
   * crash or power cut never leaves it behind). Throws an error whose code is 'ELOCKED'
   * when another holder, in this process or another, has it.
   */
  lockDirectory(dir: string): Promise<HeldLock>
  /**
   * Optional: calls `onChange` soon after an entry of directory `dir` is created,
   * removed, renamed ('rename') or written ('change') — fs.watch, inotify on Linux. A
   * wake-up only, never a fact: callers look at the files themselves, and poll as well,
   * since some file systems (network ones) send no events. Absent (a simulated disk, a
   * test wrapper): callers only poll.
   */
  watch?(dir: string, onChange: (kind: 'rename' | 'change', name: string | null) => void, onError: (error: Error) => void): DirWatch
}

/** A directory watch (StorageIO.watch). `unref` lets the process exit while it runs. */
export interface DirWatch {
  close(): void
  ref(): void
  unref(): void
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

const fsp = fs.promises

function promised<T>(run: (done: (error: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error === null ? resolve(value) : reject(error))))
}

export const nodeIO: StorageIO = {
  open: (path, flags) => promised((done) => fs.open(path, flags, done)),
  close: (fd) => promised((done) => fs.close(fd, (error) => done(error ?? null, undefined))),
  writev: (fd, buffers, position) => promised((done) => fs.writev(fd, buffers, position, done)),
  writevSync: (fd, buffers, position) => fs.writevSync(fd, buffers, position),
  read: (fd, buffer, offset, length, position) => promised((done) => fs.read(fd, buffer, offset, length, position, done)),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  fdatasync: (fd) => promised((done) => fs.fdatasync(fd, (error) => done(error ?? null, undefined))),
  fsync: (fd) => promised((done) => fs.fsync(fd, (error) => done(error ?? null, undefined))),
  ftruncate: (fd, length) => promised((done) => fs.ftruncate(fd, length, (error) => done(error ?? null, undefined))),
  fstatSize: (fd) => promised<fs.Stats>((done) => fs.fstat(fd, done)).then((stats) => stats.size),
  statSize: async (path) => (await fsp.stat(path)).size,
  readdir: (path) => fsp.readdir(path),
  mkdirp: async (path) => {
    await fsp.mkdir(path, { recursive: true })
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  removeTree: (path) => fsp.rm(path, { recursive: true, force: true }),
  readFileIfExists: async (path) => {
    try {
      return await fsp.readFile(path)
    } catch (error) {
      if (isMissing(error)) return null
      throw error
    }
  },
  lockDirectory: (dir) => lockDirectoryWithKernel(dir),
  watch: (dir, onChange, onError) => {
    const watcher = fs.watch(dir, { persistent: true }, (kind, name) => onChange(kind === 'rename' ? 'rename' : 'change', name === null ? null : String(name)))
    watcher.on('error', onError)
    return {
      close: () => watcher.close(),
      ref: () => void watcher.ref(),
      unref: () => void watcher.unref(),
    }
  },
}

export { isMissing }
