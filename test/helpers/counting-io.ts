import { type StorageIO, nodeIO } from '../../src/storage/io.js'

/** Wraps the real file system and records, per call kind, the paths it touched. */
export interface CountingIO extends StorageIO {
  calls: Array<{ op: string; path: string }>
  count(op: string, pathPart?: string): number
  reset(): void
}

export function countingIO(inner: StorageIO = nodeIO): CountingIO {
  const fdPaths = new Map<number, string>()
  const calls: Array<{ op: string; path: string }> = []
  const note = (op: string, path: string): void => {
    calls.push({ op, path })
  }
  const byFd = (fd: number): string => fdPaths.get(fd) ?? `fd:${fd}`
  return {
    calls,
    count: (op, pathPart) => calls.filter((c) => c.op === op && (pathPart === undefined || c.path.includes(pathPart))).length,
    reset: () => {
      calls.length = 0
    },
    open: async (path, flags) => {
      note('open', path)
      const fd = await inner.open(path, flags)
      fdPaths.set(fd, path)
      return fd
    },
    close: async (fd) => {
      note('close', byFd(fd))
      fdPaths.delete(fd)
      await inner.close(fd)
    },
    writev: (fd, buffers, position) => (note('writev', byFd(fd)), inner.writev(fd, buffers, position)),
    writevSync: (fd, buffers, position) => (note('writev', byFd(fd)), inner.writevSync(fd, buffers, position)),
    read: (fd, buffer, offset, length, position) => (note('read', byFd(fd)), inner.read(fd, buffer, offset, length, position)),
    fdatasync: (fd) => (note('fdatasync', byFd(fd)), inner.fdatasync(fd)),
    fsync: (fd) => (note('fsync', byFd(fd)), inner.fsync(fd)),
    ftruncate: (fd, length) => (note('ftruncate', byFd(fd)), inner.ftruncate(fd, length)),
    fstatSize: (fd) => (note('fstat', byFd(fd)), inner.fstatSize(fd)),
    statSize: (path) => (note('stat', path), inner.statSize(path)),
    readdir: (path) => (note('readdir', path), inner.readdir(path)),
    mkdirp: (path) => (note('mkdirp', path), inner.mkdirp(path)),
    rename: (from, to) => (note('rename', to), inner.rename(from, to)),
    unlink: (path) => (note('unlink', path), inner.unlink(path)),
    readFileIfExists: (path) => (note('readFile', path), inner.readFileIfExists(path)),
  }
}
