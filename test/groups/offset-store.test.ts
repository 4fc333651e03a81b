import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { OffsetStore } from '../../src/groups/offset-store.js'
import { expectCode } from '../helpers/expect-code.js'
import { tempDir } from '../helpers/temp-dir.js'

describe('OffsetStore', () => {
  it('keeps commits and generations across close and reopen', async () => {
    const dir = path.join(tempDir(), 'groups')
    const store = await OffsetStore.open(dir)
    await store.commit('workers', [
      { topic: 'orders', partition: 10, offset: 7, metadata: 'm', committedAt: 1000, leaderEpoch: 3 },
      { topic: 'orders', partition: 2, offset: 42 },
      { topic: 'audit', partition: 0, offset: 3 },
    ])
    await store.commit('email', [{ topic: 'orders', partition: 0, offset: 99 }])
    await store.commit('workers', [{ topic: 'orders', partition: 2, offset: 40 }]) // a seek back is allowed
    await store.saveGroupMeta('workers', { generation: 17, updatedAt: 5 })
    await store.close()

    const reopened = await OffsetStore.open(dir)
    expect(await reopened.fetch('workers')).toEqual([
      { topic: 'audit', partition: 0, offset: 3, metadata: null, committedAt: null, leaderEpoch: null },
      { topic: 'orders', partition: 2, offset: 40, metadata: null, committedAt: null, leaderEpoch: null },
      { topic: 'orders', partition: 10, offset: 7, metadata: 'm', committedAt: 1000, leaderEpoch: 3 },
    ])
    expect((await reopened.fetch('workers', 'orders')).map((o) => o.partition)).toEqual([2, 10])
    expect(await reopened.fetch('email')).toHaveLength(1)
    expect(await reopened.loadGroupMeta('workers')).toEqual({ generation: 17, updatedAt: 5 })
    expect(await reopened.loadGroupMeta('email')).toBeNull()
    expect(await reopened.listGroups()).toEqual(['email', 'workers'])
    await reopened.close()
  })

  it('keeps groups whose names hold the separator or prefix one another apart', async () => {
    const store = await OffsetStore.open(path.join(tempDir(), 'groups'))
    const names = ['a', 'a!b', 'a%21b', 'a-b', 'a!']
    for (const [i, name] of names.entries()) {
      await store.commit(name, [{ topic: 't', partition: 0, offset: i }])
      await store.saveGroupMeta(name, { generation: i, updatedAt: 0 })
    }
    for (const [i, name] of names.entries()) {
      expect(await store.fetch(name), name).toEqual([{ topic: 't', partition: 0, offset: i, metadata: null, committedAt: null, leaderEpoch: null }])
      expect((await store.loadGroupMeta(name))?.generation).toBe(i)
    }
    expect(await store.listGroups()).toEqual([...names].sort())
    await store.deleteGroup('a')
    expect(await store.fetch('a')).toEqual([])
    expect(await store.loadGroupMeta('a')).toBeNull()
    expect(await store.fetch('a!b')).toHaveLength(1)
    expect(await store.listGroups()).toEqual(['a!', 'a!b', 'a%21b', 'a-b'])
    await store.close()
  })

  it('refuses bad input and stores nothing of a batch with one bad entry', async () => {
    const store = await OffsetStore.open(path.join(tempDir(), 'groups'))
    await expectCode(store.commit('', []), 'INVALID_ARGUMENT')
    await expectCode(store.commit('g', [{ topic: 'bad name', partition: 0, offset: 1 }]), 'INVALID_TOPIC_NAME')
    const error = await expectCode(
      store.commit('g', [
        { topic: 't', partition: 0, offset: 1 },
        { topic: 't', partition: 1, offset: -1 },
      ]),
      'INVALID_ARGUMENT',
    )
    expect(error.details.field).toBe('offsets[1].offset')
    await expectCode(store.commit('g', [{ topic: 't', partition: 0, offset: 1, metadata: 'x'.repeat(5000) }]), 'INVALID_ARGUMENT')
    expect(await store.fetch('g')).toEqual([])
    await store.close()
    await expectCode(store.fetch('g'), 'CLOSED')
  })

  it('reports a store held open elsewhere as LOCKED', async () => {
    const dir = path.join(tempDir(), 'groups')
    const store = await OffsetStore.open(dir)
    const error = await expectCode(OffsetStore.open(dir), 'LOCKED')
    expect(error.message).toContain(dir)
    expect(error.cause).toBeDefined()
    await store.close()
  })

  it('reports a damaged store as CORRUPT_GROUP_STORE and leaves it as it was', async () => {
    const dir = path.join(tempDir(), 'groups')
    const store = await OffsetStore.open(dir)
    await store.commit('g', [{ topic: 't', partition: 0, offset: 1 }])
    await store.close()
    const current = path.join(dir, 'CURRENT')
    fs.writeFileSync(current, 'MANIFEST-999999') // no newline, names no manifest
    const error = await expectCode(OffsetStore.open(dir), 'CORRUPT_GROUP_STORE')
    expect(error.message).toContain(dir)
    expect(error.message).toContain('backup')
    expect(fs.readFileSync(current, 'utf8')).toBe('MANIFEST-999999')
  })

  it('refuses a path that is a file with CORRUPT_GROUP_STORE, naming it', async () => {
    const file = path.join(tempDir(), 'groups')
    fs.writeFileSync(file, 'not a directory')
    const error = await expectCode(OffsetStore.open(file), 'CORRUPT_GROUP_STORE')
    expect(error.message).toContain(`${file} is not a directory`)
  })
})
