import net from 'node:net'
import { afterEach, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { ReadBufferPool } from '../../src/kafka/handlers/read-buffers.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const spools: Spool[] = []
afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.close()))
})

it('the read-buffer pool does not keep a huge buffer a single fetch asked for', () => {
  const pool = new ReadBufferPool(1024 * 1024 + 64 * 1024, 16)
  const big = pool.take(256 * 1024 * 1024) // one Fetch with partitionMaxBytes = maxBytes = 256 MiB over a big segment
  pool.giveBack(big)
  const small = pool.take(100)
  // the next 100-byte read gets (and pins) the 256 MiB buffer; 16 of them stay forever
  expect(small.buffer.byteLength).toBeLessThanOrEqual(2 * (1024 * 1024 + 64 * 1024))
})

it('twelve client connections do not print a MaxListenersExceededWarning', async () => {
  const spool = await openTestSpool(tempDir(), { cleanerIntervalMs: 0 })
  spools.push(spool)
  const { port } = await spool.listen({ host: '127.0.0.1', port: 0 })
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
  process.on('warning', onWarning)
  const sockets = await Promise.all(
    Array.from({ length: 12 }, () => new Promise<net.Socket>((resolve) => { const s = net.connect(port, '127.0.0.1', () => resolve(s)) })),
  )
  await new Promise((r) => setTimeout(r, 200))
  for (const s of sockets) s.destroy()
  process.off('warning', onWarning)
  expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([])
})
