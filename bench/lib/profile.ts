/**
 * CPU profiles of chosen sections only (`node --cpu-prof` profiles the whole process:
 * dataset building, setup, the other sides). With SPOOL_BENCH_PROF=DIR set, `profiled`
 * records a .cpuprofile of each call of `fn` into DIR (open it in Chrome DevTools or
 * speedscope); without it, `profiled` is `fn()`.
 */
import fs from 'node:fs'
import { Session } from 'node:inspector/promises'
import path from 'node:path'

const dir = process.env['SPOOL_BENCH_PROF'] ?? ''
let session: Session | null = null
let count = 0

export async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (dir === '') return fn()
  if (session === null) {
    session = new Session()
    session.connect()
    await session.post('Profiler.enable')
  }
  await session.post('Profiler.start')
  try {
    return await fn()
  } finally {
    const { profile } = await session.post('Profiler.stop')
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `${name}.${process.pid}.${++count}.cpuprofile`), JSON.stringify(profile))
  }
}
