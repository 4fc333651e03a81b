import { describe, expect, it } from 'vitest'
import { ReadBufferLease, ReadBufferPool } from '../../src/kafka/handlers/read-buffers.js'

describe('ReadBufferPool: fetch read buffers lent to one response at a time', () => {
  it('never lends a buffer that is out; lends it again once given back', () => {
    const pool = new ReadBufferPool(1024, 4 * 1024)
    const a = pool.take(100)
    const b = pool.take(100)
    expect(a.buffer).not.toBe(b.buffer)
    pool.giveBack(a)
    const c = pool.take(600)
    expect(c.buffer).toBe(a.buffer)
    expect(pool.take(10).buffer).not.toBe(b.buffer)
  })

  it('ignores buffers it did not lend, and a buffer given back twice is lent once', () => {
    const pool = new ReadBufferPool(1024, 4 * 1024)
    pool.giveBack(Buffer.alloc(10))
    const a = pool.take(10)
    pool.giveBack(a)
    pool.giveBack(a)
    const first = pool.take(10)
    const second = pool.take(10)
    expect(first.buffer).toBe(a.buffer)
    expect(second.buffer).not.toBe(a.buffer)
  })

  it('a lease gives back everything it took, together', () => {
    const pool = new ReadBufferPool(1024, 4 * 1024)
    const lease = new ReadBufferLease(pool)
    const taken = [lease.allocate(10), lease.allocate(2000)]
    lease.giveBackAll()
    const again = [pool.take(10), pool.take(2000)]
    expect(new Set(again.map((b) => b.buffer))).toEqual(new Set(taken.map((b) => b.buffer)))
  })
})

describe('a buffer read ahead', () => {
  it('is no response’s until a fetch adopts it, and lent again only after that fetch gives it back', () => {
    const pool = new ReadBufferPool(1024, 4 * 1024)
    const first = new ReadBufferLease(pool)
    const ahead = first.lend(100)
    first.giveBackAll()
    expect(pool.take(100).buffer).not.toBe(ahead.buffer)
    const second = new ReadBufferLease(pool)
    second.adopt(ahead)
    second.giveBackAll()
    expect(pool.take(100).buffer).toBe(ahead.buffer)
  })

  it('taken by a reader that gives nothing back, is never lent again', () => {
    const pool = new ReadBufferPool(1024, 4 * 1024)
    const lease = new ReadBufferLease(pool)
    const ahead = lease.lend(100)
    lease.giveBackAll()
    const later = [pool.take(100), pool.take(100), pool.take(100)]
    expect(later.map((b) => b.buffer)).not.toContain(ahead.buffer)
  })
})

describe('what the pool keeps', () => {
  it('at most maxFreeBytes of free buffers, and a small read gets the smallest that fits', () => {
    const pool = new ReadBufferPool(1024, 4 * 1024)
    const huge = pool.take(64 * 1024)
    const small = pool.take(100)
    pool.giveBack(huge)
    pool.giveBack(small)
    expect(pool.take(100).buffer).toBe(small.buffer)
    expect(pool.take(100).buffer).not.toBe(huge.buffer)
  })
})
