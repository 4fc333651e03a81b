import { describe, expect, it } from 'vitest'
import { type GroupDatabase, OffsetStore, type OpenGroupDatabase } from '../../src/groups/offset-store.js'
import { Random } from './random.js'
import { SimDisk } from './sim-disk.js'
import { SimLevels } from './sim-level.js'

const DIR = '/data/groups'

function machine(): { disk: SimDisk; levels: SimLevels } {
  const disk = new SimDisk({ random: new Random(1) })
  return { disk, levels: new SimLevels(disk) }
}

/** The same database with every write's options dropped: what removing `sync: true` from the store would do. */
function withoutSync(open: OpenGroupDatabase): OpenGroupDatabase {
  return (dir, options) => {
    const db = open(dir, options)
    return new Proxy(db, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown
        if (name !== 'batch' && name !== 'put' && name !== 'del') return typeof value === 'function' ? value.bind(target) : value
        return (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(target, args.slice(0, name === 'batch' ? 1 : name === 'put' ? 2 : 1))
      },
    }) as GroupDatabase
  }
}

describe('SimLevels: LevelDB durability', () => {
  it('keeps a commit the offset store made (it writes with sync: true)', async () => {
    const { disk, levels } = machine()
    const store = await OffsetStore.open(DIR, levels.opener())
    await store.commit('g', [{ topic: 't', partition: 0, offset: 42 }])
    disk.powerCut()
    const reopened = await OffsetStore.open(DIR, levels.opener())
    expect((await reopened.fetch('g')).map((c) => c.offset)).toEqual([42])
  })

  it('loses a commit made without sync: true, so a removed sync flag is caught', async () => {
    const { disk, levels } = machine()
    const store = await OffsetStore.open(DIR, withoutSync(levels.opener()))
    await store.commit('g', [{ topic: 't', partition: 0, offset: 42 }])
    expect((await store.fetch('g')).map((c) => c.offset)).toEqual([42])
    disk.powerCut()
    const reopened = await OffsetStore.open(DIR, levels.opener())
    expect(await reopened.fetch('g')).toEqual([])
  })

  it('makes every earlier write durable with a synced one, and nothing after it', async () => {
    const { disk, levels } = machine()
    const db = levels.opener()(DIR, { keyEncoding: 'utf8', valueEncoding: 'json' })
    await db.open()
    await db.put('a', 1)
    await db.batch([{ type: 'put', key: 'b', value: 2 }], { sync: true } as object)
    await db.put('c', 3)
    expect(levels.writeCounts(DIR)).toEqual({ written: 3, durable: 2 })
    disk.powerCut()
    const after = levels.opener()(DIR, { keyEncoding: 'utf8', valueEncoding: 'json' })
    await after.open()
    expect(await after.keys().all()).toEqual(['a', 'b'])
  })

  it('keeps everything across a clean close and reopen in the same boot', async () => {
    const { levels } = machine()
    const store = await OffsetStore.open(DIR, withoutSync(levels.opener()))
    await store.commit('g', [{ topic: 't', partition: 1, offset: 7 }])
    await store.close()
    const reopened = await OffsetStore.open(DIR, levels.opener())
    expect((await reopened.fetch('g')).map((c) => c.offset)).toEqual([7])
  })

  it('is locked while open in a boot, and a power cut frees it', async () => {
    const { disk, levels } = machine()
    await OffsetStore.open(DIR, levels.opener())
    await expect(OffsetStore.open(DIR, levels.opener())).rejects.toMatchObject({ code: 'LOCKED' })
    disk.powerCut()
    await OffsetStore.open(DIR, levels.opener())
  })

  it("fails every call of an old boot's database and changes nothing", async () => {
    const { disk, levels } = machine()
    const old = await OffsetStore.open(DIR, levels.opener())
    disk.powerCut()
    await expect(old.commit('g', [{ topic: 't', partition: 0, offset: 1 }])).rejects.toMatchObject({ code: 'IO_ERROR' })
    const store = await OffsetStore.open(DIR, levels.opener())
    expect(await store.fetch('g')).toEqual([])
  })

  it("cannot open a database with an old boot's opener: an abandoned spool never takes the new boot's lock", async () => {
    const { disk, levels } = machine()
    const oldOpener = levels.opener()
    disk.powerCut()
    await expect(OffsetStore.open(DIR, oldOpener)).rejects.toBeTruthy()
    await OffsetStore.open(DIR, levels.opener())
  })

  it('charges its calls to the disk budget: a dead disk fails the commit', async () => {
    const { disk, levels } = machine()
    const store = await OffsetStore.open(DIR, levels.opener())
    disk.dieAfter(0)
    await expect(store.commit('g', [{ topic: 't', partition: 0, offset: 1 }])).rejects.toBeTruthy()
    disk.powerCut()
    expect(await (await OffsetStore.open(DIR, levels.opener())).fetch('g')).toEqual([])
  })
})
