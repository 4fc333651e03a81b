import path from 'node:path'
import { Level } from 'level'
import { describe, expect, it } from 'vitest'
import { OffsetStore } from '../../src/groups/offset-store.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Names whose UTF-8 sorts past '\uffff' (EF BF BF): 4-byte characters start with F0. */
const FOUR_BYTE_NAMES = ['🚀-workers', 'a😀', '𝔘nicode']

describe('OffsetStore key ranges', () => {
  it('lists, fetches and deletes groups named with 4-byte UTF-8 characters', async () => {
    const store = await OffsetStore.open(path.join(tempDir(), 'groups'))
    for (const [i, name] of FOUR_BYTE_NAMES.entries()) await store.commit(name, [{ topic: 't', partition: 0, offset: i + 1 }])
    await store.saveGroupMeta('😀', { generation: 2, updatedAt: 1 }) // metadata only, no offsets
    await store.commit('plain', [{ topic: 't', partition: 0, offset: 9 }])

    expect(await store.listGroups()).toEqual([...FOUR_BYTE_NAMES, '😀', 'plain'].sort())
    for (const [i, name] of FOUR_BYTE_NAMES.entries()) expect((await store.fetch(name)).map((o) => o.offset)).toEqual([i + 1])
    await store.deleteGroup('a😀')
    expect(await store.listGroups()).not.toContain('a😀')
    expect(await store.fetch('a😀')).toEqual([])
    await store.close()
  })

  it('reads a store written in the existing key layout, 4-byte names included', async () => {
    // The layout as every earlier version wrote it (see offset-store.ts): data directories keep their offsets.
    const dir = path.join(tempDir(), 'groups')
    const db = new Level<string, unknown>(dir, { keyEncoding: 'utf8', valueEncoding: 'json' })
    await db.batch([
      { type: 'put', key: 'm!🚀', value: { v: 1, generation: 4, updatedAt: 10 } },
      { type: 'put', key: 'o!🚀!orders!0000000003', value: { v: 1, offset: 17, committedAt: 5, leaderEpoch: 1 } },
      { type: 'put', key: 'o!a%21b!orders!0000000000', value: { v: 1, offset: 2 } },
    ])
    await db.close()

    const store = await OffsetStore.open(dir)
    expect(await store.listGroups()).toEqual(['a!b', '🚀'])
    expect(await store.loadGroupMeta('🚀')).toEqual({ generation: 4, updatedAt: 10 })
    expect(await store.fetch('🚀', 'orders')).toMatchObject([{ topic: 'orders', partition: 3, offset: 17, committedAt: 5, leaderEpoch: 1 }])
    expect(await store.fetch('a!b')).toMatchObject([{ topic: 'orders', partition: 0, offset: 2 }])
    await store.close()
  })
})
