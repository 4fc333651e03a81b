import fse from 'fs-extra'

/**
 * Every file-system call the storage layer makes goes through this interface, so that a
 * test can wrap it to count calls or to fail the Nth one with EIO or ENOSPC (the fault
 * seam). Positions and lengths are in bytes; descriptors are plain numbers.
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
  /** The whole file, or null when it does not exist. */
  readFileIfExists(path: string): Promise<Buffer | null>
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

export const nodeIO: StorageIO = {
  open: (path, flags) => fse.open(path, flags),
  close: (fd) => fse.close(fd),
  writev: async (fd, buffers, position) => (await fse.writev(fd, buffers, position)).bytesWritten,
  writevSync: (fd, buffers, position) => fse.writevSync(fd, buffers, position),
  read: async (fd, buffer, offset, length, position) => (await fse.read(fd, buffer, offset, length, position)).bytesRead,
  readSync: (fd, buffer, offset, length, position) => fse.readSync(fd, buffer, offset, length, position),
  fdatasync: (fd) => fse.fdatasync(fd),
  fsync: (fd) => fse.fsync(fd),
  ftruncate: (fd, length) => fse.ftruncate(fd, length),
  fstatSize: async (fd) => (await fse.fstat(fd)).size,
  statSize: async (path) => (await fse.stat(path)).size,
  readdir: (path) => fse.readdir(path),
  mkdirp: (path) => fse.mkdirp(path).then(() => undefined),
  rename: (from, to) => fse.rename(from, to),
  unlink: (path) => fse.unlink(path),
  readFileIfExists: async (path) => {
    try {
      return await fse.readFile(path)
    } catch (error) {
      if (isMissing(error)) return null
      throw error
    }
  },
}

export { isMissing }
