import { describe, expect, it } from 'vitest'
import { writeFully } from '../../src/storage/atomic-file.js'
import { Random } from './random.js'
import { SimDisk, type SimIO } from './sim-disk.js'

/** A disk with no tears and no short writes unless asked: each rule alone. */
function disk(options: { tornWriteChance?: number; shortWriteChance?: number } = {}): SimDisk {
  return new SimDisk({ random: new Random(7), tornWriteChance: 0, shortWriteChance: 0, ...options })
}

async function writeFile(io: SimIO, file: string, text: string, flags = 'w'): Promise<number> {
  const fd = await io.open(file, flags)
  await io.writev(fd, [Buffer.from(text)], 0)
  return fd
}

async function fsyncDir(io: SimIO, dir: string): Promise<void> {
  const fd = await io.open(dir, 'r')
  await io.fsync(fd)
  await io.close(fd)
}

async function codeOf(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call
  } catch (error) {
    return (error as NodeJS.ErrnoException).code
  }
  return undefined
}

/** `/d/f` holding `text`, file and directory entry fsynced: a known durable start. */
async function durableFile(text: string): Promise<{ d: SimDisk; io: SimIO; fd: number }> {
  const d = disk()
  const io = await withDurableDir(d)
  const fd = await writeFile(io, '/d/f', text)
  await io.fsync(fd)
  await fsyncDir(io, '/d')
  return { d, io, fd }
}

/** A durable directory /d, so each test starts from a known durable state. */
async function withDurableDir(d: SimDisk): Promise<SimIO> {
  const io = d.io()
  await io.mkdirp('/d')
  await fsyncDir(io, '/')
  return io
}

describe('SimDisk: file data', () => {
  it('keeps what fdatasync covered and drops what it did not', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    const fd = await writeFile(io, '/d/f', 'durable')
    await fsyncDir(io, '/d')
    await io.fdatasync(fd)
    await io.writev(fd, [Buffer.from('+lost')], 7)
    expect(d.fileContents('/d/f')?.toString()).toBe('durable+lost')
    d.powerCut()
    expect(d.fileContents('/d/f')?.toString()).toBe('durable')
  })

  it('undoes an unsynced truncation, whether by ftruncate or by a truncating open', async () => {
    const { d, io, fd } = await durableFile('abcdef')
    await io.ftruncate(fd, 2)
    await io.close(await io.open('/d/g', 'w'))
    expect(d.fileContents('/d/f')?.toString()).toBe('ab')
    d.powerCut()
    expect(d.fileContents('/d/f')?.toString()).toBe('abcdef')

    const io2 = d.io()
    await io2.close(await io2.open('/d/f', 'w'))
    expect(d.fileContents('/d/f')?.length).toBe(0)
    d.powerCut()
    expect(d.fileContents('/d/f')?.toString()).toBe('abcdef')
  })

  it('after a truncation and a regrowth, a fsync leaves zeros, not the old bytes', async () => {
    const { d, io, fd } = await durableFile('abcdef')
    await io.ftruncate(fd, 2)
    await io.ftruncate(fd, 4)
    await io.fdatasync(fd)
    d.powerCut()
    expect(d.fileContents('/d/f')).toEqual(Buffer.from([0x61, 0x62, 0, 0]))
  })

  it('may keep a torn prefix of the last unsynced write', async () => {
    const d = disk({ tornWriteChance: 1 })
    const io = await withDurableDir(d)
    const fd = await writeFile(io, '/d/f', 'head')
    await io.fsync(fd)
    await fsyncDir(io, '/d')
    await io.writev(fd, [Buffer.from('0123456789')], 4)
    d.powerCut()
    const survived = d.fileContents('/d/f')!.toString()
    expect(survived.startsWith('head')).toBe(true)
    expect(survived.length).toBeGreaterThan(4)
    expect('head0123456789'.startsWith(survived)).toBe(true)
  })

  it('loses for good the data a failed fsync should have covered, even after a later fsync succeeds', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    const fd = await writeFile(io, '/d/seg.log', 'AAAA')
    await io.fsync(fd)
    await fsyncDir(io, '/d')
    await io.writev(fd, [Buffer.from('BBBB')], 4)
    d.failFsync('seg.log')
    expect(await codeOf(io.fdatasync(fd))).toBe('EIO')
    // Linux marked the pages clean: readers see the bytes, and the next fsync "succeeds".
    expect(d.fileContents('/d/seg.log')?.toString()).toBe('AAAABBBB')
    await io.writev(fd, [Buffer.from('CCCC')], 8)
    await io.fdatasync(fd)
    d.powerCut()
    expect(d.fileContents('/d/seg.log')).toEqual(Buffer.concat([Buffer.from('AAAA'), Buffer.alloc(4), Buffer.from('CCCC')]))
  })

  it('writes at the end under O_APPEND and makes every write durable under O_SYNC', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    const fd = await writeFile(io, '/d/f', 'ab', 'as')
    await io.writev(fd, [Buffer.from('cd')], 0)
    await fsyncDir(io, '/d')
    d.powerCut()
    expect(d.fileContents('/d/f')?.toString()).toBe('abcd')
  })
})

describe('SimDisk: short writes and listings', () => {
  it('may write less than asked, and a caller that loops writes it all', async () => {
    const d = disk({ shortWriteChance: 1 })
    const io = await withDurableDir(d)
    const fd = await io.open('/d/f', 'w')
    const bytes = Buffer.from('0123456789')
    const first = await io.writev(fd, [bytes], 0)
    expect(first).toBeLessThan(bytes.length)
    await writeFully(io, fd, [bytes.subarray(first)], first)
    expect(d.fileContents('/d/f')?.toString()).toBe('0123456789')
  })

  it('lists a directory in a seeded order: the same seed, the same order', async () => {
    const listing = async (): Promise<string[]> => {
      const d = new SimDisk({ random: new Random(3) })
      const io = d.io()
      for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) await io.mkdirp(`/d/${name}`)
      return io.readdir('/d')
    }
    const first = await listing()
    expect([...first].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
    expect(await listing()).toEqual(first)
  })
})

describe('SimDisk: directory entries', () => {
  it("forgets a new file until its directory is fsync'ed", async () => {
    const d = disk()
    const io = await withDurableDir(d)
    const fd = await writeFile(io, '/d/new', 'data')
    await io.fsync(fd)
    d.powerCut()
    expect(d.exists('/d/new')).toBe(false)

    const io2 = d.io()
    await io2.fsync(await writeFile(io2, '/d/new', 'data'))
    await fsyncDir(io2, '/d')
    d.powerCut()
    expect(d.fileContents('/d/new')?.toString()).toBe('data')
  })

  it('keeps a file empty when only its entry was made durable', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    await writeFile(io, '/d/f', 'not synced')
    await fsyncDir(io, '/d')
    d.powerCut()
    expect(d.fileContents('/d/f')?.length).toBe(0)
  })

  it('undoes a rename without a directory fsync: the renamed-over file comes back', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    await io.fsync(await writeFile(io, '/d/target', 'old'))
    await io.fsync(await writeFile(io, '/d/target.tmp', 'new'))
    await fsyncDir(io, '/d')
    await io.rename('/d/target.tmp', '/d/target')
    expect(d.fileContents('/d/target')?.toString()).toBe('new')
    d.powerCut()
    expect(d.fileContents('/d/target')?.toString()).toBe('old')
    expect(d.fileContents('/d/target.tmp')?.toString()).toBe('new')

    const io2 = d.io()
    await io2.rename('/d/target.tmp', '/d/target')
    await fsyncDir(io2, '/d')
    d.powerCut()
    expect(d.list('/d')).toEqual(['target'])
    expect(d.fileContents('/d/target')?.toString()).toBe('new')
  })

  it('brings back an unlinked file, and a removed tree, when the directory was not fsynced', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    await io.mkdirp('/d/topic-0')
    await io.fsync(await writeFile(io, '/d/topic-0/seg', 'records'))
    await fsyncDir(io, '/d/topic-0')
    await io.fsync(await writeFile(io, '/d/f', 'x'))
    await fsyncDir(io, '/d')
    await io.unlink('/d/f')
    await io.removeTree('/d/topic-0')
    expect(d.list('/d')).toEqual([])
    d.powerCut()
    expect(d.list('/d')).toEqual(['f', 'topic-0'])
    expect(d.fileContents('/d/topic-0/seg')?.toString()).toBe('records')
  })

  it("forgets a directory until its parent is fsync'ed", async () => {
    const d = disk()
    const io = await withDurableDir(d)
    await io.mkdirp('/d/a/b')
    await fsyncDir(io, '/d/a')
    d.powerCut()
    expect(d.exists('/d/a')).toBe(false)
  })
})

describe('SimDisk: boots, death and locks', () => {
  it("fails every call of an old boot's handle and descriptors with EIO, changing nothing", async () => {
    const d = disk()
    const old = await withDurableDir(d)
    const fd = await old.open('/d/f', 'w')
    d.powerCut()
    const io = d.io()
    expect(await codeOf(old.mkdirp('/d/x'))).toBe('EIO')
    expect(await codeOf(io.writev(fd, [Buffer.from('x')], 0))).toBe('EIO')
    expect(await codeOf(io.close(fd))).toBe('EIO')
    expect(() => io.writevSync(fd, [Buffer.from('x')], 0)).toThrow(/EIO/)
    expect(d.list('/d')).toEqual([])
    // New descriptors never take an old number.
    expect(await io.open('/d', 'r')).toBeGreaterThan(fd)
  })

  it('dies after a budget of calls: every later call of the boot fails and changes nothing', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    d.dieAfter(1)
    await io.mkdirp('/d/a')
    expect(d.dead).toBe(true)
    expect(await codeOf(io.mkdirp('/d/b'))).toBe('EIO')
    expect(d.list('/d')).toEqual(['a'])
    d.powerCut()
    expect(d.dead).toBe(false)
    await d.io().mkdirp('/d/c')
  })

  it('holds a lock per boot: a second holder gets ELOCKED, a power cut frees it', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    const held = await io.lockDirectory('/d/.writer-lock')
    expect(await codeOf(io.lockDirectory('/d/.writer-lock'))).toBe('ELOCKED')
    d.powerCut()
    const again = await d.io().lockDirectory('/d/.writer-lock')
    expect(await codeOf(held.release())).toBe('EIO')
    await again.release()
    await d.io().lockDirectory('/d/.writer-lock')
  })
})

describe('SimDisk: errors as node:fs gives them', () => {
  it('names code, syscall and path', async () => {
    const d = disk()
    const io = await withDurableDir(d)
    await writeFile(io, '/d/f', 'x')
    const missing = await io.open('/d/none', 'r').catch((error: NodeJS.ErrnoException) => error)
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/d/none', errno: -2 })
    expect(await codeOf(io.open('/d/f', 'wx'))).toBe('EEXIST')
    expect(await codeOf(io.open('/d/f/x', 'w'))).toBe('ENOTDIR')
    expect(await codeOf(io.open('/d', 'r+'))).toBe('EISDIR')
    expect(await codeOf(io.unlink('/d'))).toBe('EISDIR')
    expect(await codeOf(io.readdir('/d/f'))).toBe('ENOTDIR')
    expect(await codeOf(io.rename('/d/none', '/d/g'))).toBe('ENOENT')
    expect(await codeOf(io.mkdirp('/d/f'))).toBe('EEXIST')
    expect(await codeOf(io.readFileIfExists('/d'))).toBe('EISDIR')
    expect(await io.readFileIfExists('/d/none/deeper')).toBeNull()
    const readOnly = await io.open('/d/f', 'r')
    expect(await codeOf(io.writev(readOnly, [Buffer.from('y')], 0))).toBe('EBADF')
    await io.removeTree('/d/none')
  })
})
