import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { acquireDirLock } from '../../src/storage/dir-lock.js'
import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import { LOCK_FILE, WRITER_LOCK_DIR } from '../../src/storage/paths.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const LOCK_HOLDER = path.join(import.meta.dirname, '../fixtures/lock-holder.ts')

/** A child running test/fixtures/lock-holder.ts: loaded (`ready`), then told to `go` for the lock. */
interface Locker {
  readonly ready: Promise<void>
  /** `held <pid>`, `refused <code> <message>`, or `exited` if it died before saying. */
  readonly outcome: Promise<string>
  go(): void
  kill(): Promise<void>
}

const running: Locker[] = []

// A failed assertion must not leave children holding locks (or burning the shared CPU).
afterEach(async () => {
  await Promise.all(running.splice(0).map((locker) => locker.kill()))
})

function startLocker(dir: string): Locker {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', LOCK_HOLDER, dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const lines: string[] = []
  const waiters: Array<(line: string) => void> = []
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiters.shift()
    if (waiter === undefined) lines.push(line)
    else waiter(line)
  })
  void exited.then(() => waiters.splice(0).forEach((waiter) => waiter('exited')))
  const nextLine = (): Promise<string> => {
    const line = lines.shift()
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiters.push(resolve))
  }
  const ready = nextLine().then((line) => expect(line).toBe('ready'))
  const outcome = ready.then(nextLine)
  const locker: Locker = {
    ready,
    outcome,
    go: () => child.stdin!.write('go\n'),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
  running.push(locker)
  return locker
}

/** A child that has taken the lock of `dir`. */
async function holderOf(dir: string): Promise<Locker> {
  const holder = startLocker(dir)
  await holder.ready
  holder.go()
  expect(await holder.outcome).toMatch(/^held \d+$/)
  return holder
}

describe('directory lock in one process', () => {
  it('refuses a second open as LOCKED by this process, and reopens after release', async () => {
    const dir = tempDir()
    const lock = await acquireDirLock(dir, nodeIO)
    const error = await expectCode(acquireDirLock(dir, nodeIO), 'LOCKED')
    expect(error.message).toContain(dir)
    expect(error.message).toContain('this process')
    await lock.release()
    await lock.release() // a second release is harmless
    const again = await acquireDirLock(dir, nodeIO)
    await again.release()
  })

  it('is one lock under two spellings of the directory (a symlink)', async () => {
    const dir = tempDir()
    const link = path.join(tempDir(), 'link')
    fs.symlinkSync(dir, link)
    const lock = await acquireDirLock(dir, nodeIO)
    await expectCode(acquireDirLock(link, nodeIO), 'LOCKED')
    await lock.release()
  })

  it.each([
    ['empty (a power cut)', ''],
    ['naming a dead process', JSON.stringify({ pid: 2 ** 22 + 1, startTime: '1' })],
    ['naming a live process', JSON.stringify({ pid: process.ppid, startTime: null })],
    ['garbage', '\0\0\0'],
  ])('opens a directory whose leftover %s .lock file would once have blocked it', async (_, contents) => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, LOCK_FILE), contents)
    const lock = await acquireDirLock(dir, nodeIO)
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, hostname: os.hostname() })
    await lock.release()
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false)
  })

  it('opens when a power cut tore the lock database itself', async () => {
    const dir = tempDir()
    await (await acquireDirLock(dir, nodeIO)).release()
    const lockDir = path.join(dir, WRITER_LOCK_DIR)
    fs.writeFileSync(path.join(lockDir, 'CURRENT'), '')
    await (await acquireDirLock(dir, nodeIO)).release()
    fs.writeFileSync(path.join(lockDir, 'CURRENT'), 'MANIFEST-999999\n') // names a manifest never synced
    await (await acquireDirLock(dir, nodeIO)).release()
  })

  it('takes the lock through io.lockDirectory, so a simulated disk decides who holds it', async () => {
    const dir = tempDir()
    const failingWith = (code: string): StorageIO => ({
      ...nodeIO,
      lockDirectory: () => Promise.reject(Object.assign(new Error(code), { code })),
    })
    await expectCode(acquireDirLock(dir, failingWith('ELOCKED')), 'LOCKED')
    const error = await expectCode(acquireDirLock(dir, failingWith('EACCES')), 'IO_ERROR')
    expect(error.details).toMatchObject({ errno: 'EACCES' })
    let released = 0
    const counting: StorageIO = { ...nodeIO, lockDirectory: () => Promise.resolve({ release: async () => void released++ }) }
    const lock = await acquireDirLock(dir, counting)
    await lock.release()
    expect(released).toBe(1)
  })

  it('read-only opens take no lock', async () => {
    const dir = tempDir()
    const writer = await openTestSpool(dir)
    const reader = await openTestSpool(dir, { readOnly: true })
    await reader.close()
    await writer.close()
    // A closed spool with no topic holds only the lock's files: still a spool to inspect.
    const inspector = await openTestSpool(dir, { readOnly: true })
    const secondWriter = await openTestSpool(dir)
    await secondWriter.close()
    await inspector.close()
  })
})

describe('directory lock across processes', () => {
  it('refuses while another process holds it, naming that process; opens once it is SIGKILLed', async () => {
    const dir = tempDir()
    const holder = await holderOf(dir)
    const pid = Number((await holder.outcome).split(' ')[1])
    try {
      const error = await expectCode(acquireDirLock(dir, nodeIO), 'LOCKED')
      expect(error.message).toContain(`process ${pid} on ${os.hostname()}`)
      expect(error.details).toMatchObject({ pid })
    } finally {
      await holder.kill()
    }
    const lock = await acquireDirLock(dir, nodeIO)
    await lock.release()
  })

  it('a child cannot take the lock this process holds', async () => {
    const dir = tempDir()
    const lock = await acquireDirLock(dir, nodeIO)
    const other = startLocker(dir)
    await other.ready
    other.go()
    expect(await other.outcome).toMatch(new RegExp(`^refused LOCKED .*process ${process.pid} on `))
    await other.kill()
    await lock.release()
  })

  it('two processes racing for the lock of a killed writer: exactly one wins, every time', async () => {
    const ROUNDS = 20
    const dir = tempDir()
    let killed = await holderOf(dir)
    for (let round = 0; round < ROUNDS; round++) {
      const racers = [startLocker(dir), startLocker(dir)]
      await Promise.all(racers.map((racer) => racer.ready))
      await killed.kill() // leaves its .lock naming a dead process
      for (const racer of racers) racer.go()
      const outcomes = await Promise.all(racers.map((racer) => racer.outcome))
      const held = outcomes.map((outcome) => outcome.startsWith('held '))
      expect(held.filter(Boolean).length, `round ${round}: ${outcomes.join(' | ')}`).toBe(1)
      expect(outcomes.filter((outcome) => outcome.startsWith('refused LOCKED ')), `round ${round}`).toHaveLength(1)
      killed = racers[held.indexOf(true)]!
    }
    await killed.kill()
  })
})
