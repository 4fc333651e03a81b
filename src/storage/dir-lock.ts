import os from 'node:os'
import path from 'node:path'
import { SpoolError, ioError } from '../errors.js'
import { writeFully } from './atomic-file.js'
import type { HeldLock, StorageIO } from './io.js'
import { LOCK_FILE, WRITER_LOCK_DIR } from './paths.js'

/**
 * One writer per directory (contract 6). The kernel decides: `io.lockDirectory` takes a
 * lock the kernel drops when its process dies, so a crash or a power cut never leaves a
 * directory that only a person can unlock, two processes can never both win it, and no
 * pid is ever compared (two containers sharing a volume may both be PID 1).
 *
 * The `.lock` file beside it only names the holder for the LOCKED message. It is written
 * after the lock is taken and removed before it is dropped; it is not fsync'ed, so after a
 * crash it may be missing, empty or stale (a leftover of an older version too), and it
 * is then just overwritten.
 */
export interface DirLock {
  release(): Promise<void>
}

interface LockOwner {
  pid: number
  hostname: string
  /** When the holding process started, ISO 8601. */
  startedAt: string
}

const ELOCKED = 'ELOCKED'

/** Computed once, so that "this process" can be recognised by all three fields. */
const ME: LockOwner = {
  pid: process.pid,
  hostname: os.hostname(),
  startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
}

/** Best effort: a missing name only makes the LOCKED message vaguer, so failures are ignored. */
async function writeOwner(io: StorageIO, file: string): Promise<void> {
  let fd: number
  try {
    fd = await io.open(file, 'w')
  } catch {
    return
  }
  try {
    await writeFully(io, fd, [Buffer.from(JSON.stringify(ME))], 0)
  } catch {
    // Ignored: see above.
  } finally {
    await io.close(fd).catch(() => undefined)
  }
}

async function readOwner(io: StorageIO, file: string): Promise<LockOwner | null> {
  try {
    const text = await io.readFileIfExists(file)
    if (text === null) return null
    const parsed = JSON.parse(text.toString('utf8')) as Partial<LockOwner>
    if (typeof parsed.pid !== 'number') return null
    return { pid: parsed.pid, hostname: String(parsed.hostname ?? '?'), startedAt: String(parsed.startedAt ?? '?') }
  } catch {
    return null
  }
}

function describeOwner(owner: LockOwner | null): string {
  if (owner === null) return 'another writer'
  if (owner.pid === ME.pid && owner.hostname === ME.hostname && owner.startedAt === ME.startedAt) return 'this process'
  return `process ${owner.pid} on ${owner.hostname} (started ${owner.startedAt})`
}

function lockedError(dir: string, owner: LockOwner | null, cause: unknown): SpoolError {
  return new SpoolError(
    'LOCKED',
    `${dir} is already open for writing by ${describeOwner(owner)}; close it first, or open it read-only to inspect it`,
    { cause, details: { dir, pid: owner?.pid, hostname: owner?.hostname } },
  )
}

export async function acquireDirLock(dir: string, io: StorageIO): Promise<DirLock> {
  const lockDir = path.join(dir, WRITER_LOCK_DIR)
  const ownerFile = path.join(dir, LOCK_FILE)
  let held: HeldLock
  try {
    held = await io.lockDirectory(lockDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException | undefined)?.code === ELOCKED) throw lockedError(dir, await readOwner(io, ownerFile), error)
    throw ioError('taking the writer lock', lockDir, error)
  }
  await writeOwner(io, ownerFile)
  let released: Promise<void> | null = null
  return {
    // The name goes first, while the lock still keeps the next holder from writing its own.
    release: () => (released ??= io.unlink(ownerFile).catch(() => undefined).then(() => held.release())),
  }
}

/**
 * The lock a standalone writer of a partition directory takes: its own directory's, and,
 * when the directory lies in a locked data directory (one holding a writer lock, as a
 * spool's does), that directory's too — so that `PartitionLog.open` beside a running
 * spool fails with LOCKED instead of appending under it.
 */
export async function acquirePartitionLock(dir: string, io: StorageIO): Promise<DirLock> {
  const parent = path.dirname(path.resolve(dir))
  const enclosing = (await io.readdir(parent).catch(() => [] as string[])).includes(WRITER_LOCK_DIR)
  const outer = enclosing ? await acquireDirLock(parent, io) : null
  try {
    const inner = await acquireDirLock(dir, io)
    return {
      release: async () => {
        await inner.release()
        await outer?.release()
      },
    }
  } catch (error) {
    await outer?.release()
    throw error
  }
}
