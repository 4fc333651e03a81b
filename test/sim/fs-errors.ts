/** The errno numbers Linux gives these codes (negated, as Node reports them). */
const ERRNO = {
  EIO: -5,
  EBADF: -9,
  EEXIST: -17,
  ENOTDIR: -20,
  EISDIR: -21,
  EINVAL: -22,
  ENOSPC: -28,
  ENOTEMPTY: -39,
  ENOENT: -2,
} as const

export type FsErrorCode = keyof typeof ERRNO

const DESCRIPTIONS: Record<FsErrorCode, string> = {
  EIO: 'i/o error',
  EBADF: 'bad file descriptor',
  EEXIST: 'file already exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'illegal operation on a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  ENOTEMPTY: 'directory not empty',
  ENOENT: 'no such file or directory',
}

/**
 * An error shaped as node:fs makes them (`code`, `errno`, `syscall`, `path`, and the same
 * message format), so that the engine's error handling sees what it would see on a disk.
 */
export function fsError(code: FsErrorCode, syscall: string, path?: string): NodeJS.ErrnoException {
  const where = path === undefined ? '' : ` '${path}'`
  const error: NodeJS.ErrnoException = new Error(`${code}: ${DESCRIPTIONS[code]}, ${syscall}${where}`)
  error.code = code
  error.errno = ERRNO[code]
  error.syscall = syscall
  if (path !== undefined) error.path = path
  return error
}
