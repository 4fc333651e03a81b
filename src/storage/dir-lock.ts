import fs from 'node:fs'
import path from 'node:path'
import { SpoolError, ioError } from '../errors.js'
import { LOCK_FILE } from './paths.js'

/**
 * One writer per directory (contract 6). The lock is a file created exclusively that
 * names its owner (pid and process start time). A lock whose owner is gone — the writer
 * was killed — is taken over; a live owner, in this process or another, means LOCKED.
 * Node has no flock(); the start time guards against a recycled pid.
 */
export interface DirLock {
  readonly path: string
  release(): Promise<void>
}

interface LockOwner {
  pid: number
  startTime: string | null
}

const heldInThisProcess = new Set<string>()

function processStartTime(pid: number): string | null {
  try {
    // Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces, so split after ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function ownerIsAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const startTime = processStartTime(owner.pid)
  return owner.startTime === null || startTime === null || startTime === owner.startTime
}

function readOwner(file: string): LockOwner | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, startTime: parsed.startTime ?? null } : null
  } catch {
    return null
  }
}

function lockedError(dir: string, owner: LockOwner | null): SpoolError {
  const who = owner === null ? 'another writer' : owner.pid === process.pid ? 'this process' : `process ${owner.pid}`
  return new SpoolError(
    'LOCKED',
    `${dir} is already open for writing by ${who}; close it first, or open it read-only to inspect it`,
    { details: { dir, pid: owner?.pid } },
  )
}

export async function acquireDirLock(dir: string): Promise<DirLock> {
  const file = path.join(path.resolve(dir), LOCK_FILE)
  if (heldInThisProcess.has(file)) throw lockedError(dir, { pid: process.pid, startTime: null })
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid) }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(me), { flag: 'wx' })
      heldInThisProcess.add(file)
      return {
        path: file,
        release: async () => {
          heldInThisProcess.delete(file)
          await fs.promises.unlink(file).catch(() => undefined)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('creating lock file', file, error)
    }
    const owner = readOwner(file)
    // An unreadable lock file may be one being written right now: treat it as held.
    if (owner === null || ownerIsAlive(owner)) throw lockedError(dir, owner)
    fs.rmSync(file, { force: true })
  }
  throw lockedError(dir, null)
}
