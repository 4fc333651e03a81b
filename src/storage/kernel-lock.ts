import fs from 'node:fs'
import path from 'node:path'
import { Level } from 'level'
import type { HeldLock } from './io.js'

/**
 * An exclusive lock on a directory that the kernel holds for this process and drops when
 * the process dies, however it dies: SIGKILL, OOM kill or power cut leave nothing a person
 * must delete, and no pid is ever compared (two containers may both be PID 1).
 *
 * Node has no flock(); LevelDB has one. Opening a LevelDB database takes a POSIX fcntl
 * lock on its `LOCK` file, and LevelDB also refuses a second open of the same `LOCK` path
 * within one process (fcntl locks alone would let the same process take it twice). So the
 * lock is a tiny, always empty database in `lockDir`; nothing is ever written to it.
 */

/** LevelDB's smallest sizes (it clamps smaller ones): the database only ever holds the lock. */
const TINY = { cacheSize: 8 * 1024, writeBufferSize: 64 * 1024, maxOpenFiles: 74 } as const

/** LevelDB's own file in a database directory; never unlinked, since it is what is locked. */
const LEVELDB_LOCK_FILE = 'LOCK'

interface CodedError extends Error {
  code?: string
  cause?: unknown
}

function lockedElsewhere(lockDir: string, cause: unknown): CodedError {
  return Object.assign(new Error(`${lockDir} is locked by another holder`, { cause }), { code: 'ELOCKED' })
}

/** classic-level wraps the binding's error (LEVEL_LOCKED, LEVEL_CORRUPTION, …) in LEVEL_DATABASE_NOT_OPEN. */
function levelCode(error: unknown): string | undefined {
  const outer = error as CodedError | undefined
  return (outer?.cause as CodedError | undefined)?.code ?? outer?.code
}

/**
 * The database's files other than `LOCK` carry nothing; a power cut during a first open
 * can leave them torn (an empty CURRENT, a MANIFEST it names but never synced), and
 * LevelDB then refuses to open. Deleting them is safe even if someone took the lock in
 * the meantime: the holder's lock lives on the `LOCK` inode, which stays, and a holder
 * never reads these files after its open.
 */
async function clearLockDatabase(lockDir: string): Promise<void> {
  for (const name of await fs.promises.readdir(lockDir)) {
    if (name !== LEVELDB_LOCK_FILE) await fs.promises.rm(path.join(lockDir, name), { recursive: true, force: true })
  }
}

async function openLockDatabase(lockDir: string): Promise<Level<string, string>> {
  const db = new Level<string, string>(lockDir, { createIfMissing: true, errorIfExists: false, ...TINY })
  await db.open({ passive: false })
  return db
}

/**
 * Takes the lock, creating `lockDir` if needed. Throws an error with code 'ELOCKED' when
 * another holder (this process or another) has it; other failures keep their code (the
 * errno of creating the directory, or LevelDB's code).
 */
export async function lockDirectoryWithKernel(lockDir: string): Promise<HeldLock> {
  await fs.promises.mkdir(lockDir, { recursive: true })
  // LevelDB's same-process check compares path strings: resolve symlinks so that two
  // spellings of one directory are one lock.
  const canonical = await fs.promises.realpath(lockDir)
  let db: Level<string, string>
  try {
    db = await openLockDatabase(canonical)
  } catch (error) {
    if (levelCode(error) === 'LEVEL_LOCKED') throw lockedElsewhere(lockDir, error)
    await clearLockDatabase(canonical)
    try {
      db = await openLockDatabase(canonical)
    } catch (retryError) {
      if (levelCode(retryError) === 'LEVEL_LOCKED') throw lockedElsewhere(lockDir, retryError)
      throw retryError
    }
  }
  let released: Promise<void> | null = null
  return {
    release: () => (released ??= db.close()),
  }
}
