import type { StorageIO } from '../../src/storage/io.js'

/** The names a wrapped call is reported under (writevSync counts as a writev). */
export type IOOp =
  | 'open'
  | 'close'
  | 'writev'
  | 'read'
  | 'fdatasync'
  | 'fsync'
  | 'ftruncate'
  | 'fstat'
  | 'stat'
  | 'readdir'
  | 'mkdirp'
  | 'rename'
  | 'unlink'
  | 'removeTree'
  | 'lock'
  | 'readFile'

/**
 * Called before each call with its op and path (descriptors mapped back to the path they
 * were opened with; a rename reports its target). It may throw to fail the call; for a
 * writev, a returned number makes that call write only that many bytes.
 */
export type IOHook = (op: IOOp, path: string) => number | undefined

/** The file system `inner`, with `hook` seeing every call: the base of the test I/O wrappers. */
export function wrapIO(inner: StorageIO, hook: IOHook): StorageIO {
  const paths = new Map<number, string>()
  const byFd = (fd: number): string => paths.get(fd) ?? `fd:${fd}`
  const shorten = (buffers: Buffer[], short: number | undefined): Buffer[] =>
    short === undefined ? buffers : [Buffer.concat(buffers).subarray(0, short)]
  return {
    open: async (path, flags) => {
      hook('open', path)
      const fd = await inner.open(path, flags)
      paths.set(fd, path)
      return fd
    },
    close: async (fd) => {
      hook('close', byFd(fd))
      paths.delete(fd)
      await inner.close(fd)
    },
    writev: async (fd, buffers, position) => inner.writev(fd, shorten(buffers, hook('writev', byFd(fd))), position),
    writevSync: (fd, buffers, position) => inner.writevSync(fd, shorten(buffers, hook('writev', byFd(fd))), position),
    read: async (fd, buffer, offset, length, position) => (hook('read', byFd(fd)), inner.read(fd, buffer, offset, length, position)),
    readSync: (fd, buffer, offset, length, position) => (hook('read', byFd(fd)), inner.readSync(fd, buffer, offset, length, position)),
    fdatasync: async (fd) => (hook('fdatasync', byFd(fd)), inner.fdatasync(fd)),
    fsync: async (fd) => (hook('fsync', byFd(fd)), inner.fsync(fd)),
    ftruncate: async (fd, length) => (hook('ftruncate', byFd(fd)), inner.ftruncate(fd, length)),
    fstatSize: async (fd) => (hook('fstat', byFd(fd)), inner.fstatSize(fd)),
    statSize: async (path) => (hook('stat', path), inner.statSize(path)),
    readdir: async (path) => (hook('readdir', path), inner.readdir(path)),
    mkdirp: async (path) => (hook('mkdirp', path), inner.mkdirp(path)),
    rename: async (from, to) => (hook('rename', to), inner.rename(from, to)),
    unlink: async (path) => (hook('unlink', path), inner.unlink(path)),
    removeTree: async (path) => (hook('removeTree', path), inner.removeTree(path)),
    readFileIfExists: async (path) => (hook('readFile', path), inner.readFileIfExists(path)),
    lockDirectory: async (dir) => (hook('lock', dir), inner.lockDirectory(dir)),
  }
}
