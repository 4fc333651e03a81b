import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { isSpoolError } from '../../src/errors.js'
import { openLog } from '../helpers/open-log.js'
import { tempDir } from '../helpers/temp-dir.js'

const HOLDER = `
import { PartitionLog } from './src/storage/partition-log.js'
const [dir, mode] = process.argv.slice(1)
try {
  const log = await PartitionLog.open(dir)
  process.stdout.write('holding\\n')
  if (mode === 'release') { await log.close(); process.stdout.write('released\\n') }
  else setInterval(() => {}, 1000)
} catch (error) {
  process.stdout.write('error ' + error.code + '\\n')
}
`

/** Runs a child that opens `dir`; resolves with its first line of output. */
function child(dir: string, mode: 'hold' | 'release'): { firstLine: Promise<string>; kill: () => Promise<void> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', HOLDER, dir, mode], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
    proc.on('exit', () => resolve(out.split('\n')[0]!))
    proc.on('error', reject)
  })
  return {
    firstLine,
    kill: async () => {
      proc.kill('SIGKILL')
      await exited
    },
  }
}

describe('directory lock across processes', () => {
  it('refuses a second writer in another process, and takes over after that writer dies', async () => {
    const dir = tempDir()
    const holder = child(dir, 'hold')
    expect(await holder.firstLine).toBe('holding')
    try {
      await openLog(dir)
      expect.unreachable('the second open should fail')
    } catch (error) {
      expect(isSpoolError(error, 'LOCKED')).toBe(true)
    }
    await holder.kill() // SIGKILL: the lock file stays behind, naming a dead process
    const log = await openLog(dir)
    await log.close()
  }, 30_000)

  it('a child process cannot open a directory this process holds', async () => {
    const dir = tempDir()
    const log = await openLog(dir)
    const other = child(dir, 'release')
    expect(await other.firstLine).toBe('error LOCKED')
    await other.kill()
    await log.close()
  }, 30_000)
})
