import os from 'node:os'
import path from 'node:path'
import fse from 'fs-extra'
import { GroupCoordinator, type RebalanceEvent } from '../groups/coordinator.js'
import { OffsetStore, type OpenGroupDatabase } from '../groups/offset-store.js'
import { COORDINATOR_TICK_MS } from '../limits.js'
import type { Logger } from '../storage/logger.js'
import type { Topics } from '../topics/topics.js'

/** The LevelDB store of committed offsets and group generations, inside the data directory. */
export const GROUPS_DIR = 'groups'

export interface GroupHubOptions {
  dataDir: string
  topics: Topics
  clock: () => number
  logger: Logger
  readOnly: boolean
  /** The store's database; LevelDB in `<dataDir>/groups` by default. */
  openDatabase?: OpenGroupDatabase
}

/**
 * The spool's side of consumer groups: it opens the offset store on first use, runs the
 * coordinator's session clock, and — because every member lives in this process — tells
 * a group's members at once when their group changes, so that a rebalance completes in
 * microseconds instead of a heartbeat interval.
 *
 * Read-only (the CLI beside a running writer): LevelDB allows one process at a time, so
 * the store is read from a copy taken at open, discarded at close.
 */
export class GroupHub {
  private opening: Promise<GroupCoordinator> | null = null
  private store: OffsetStore | null = null
  private snapshotDir: string | null = null
  private ticker: NodeJS.Timeout | null = null
  private readonly members = new Map<string, Set<() => void>>()
  private readonly listeners = new Set<(event: RebalanceEvent) => void>()

  constructor(private readonly options: GroupHubOptions) {}

  coordinator(): Promise<GroupCoordinator> {
    this.opening ??= this.open()
    return this.opening
  }

  private async open(): Promise<GroupCoordinator> {
    const { dataDir, topics, clock, logger, readOnly, openDatabase } = this.options
    let dir = path.join(dataDir, GROUPS_DIR)
    // The snapshot copies LevelDB's files; a database given by the embedder is its own business.
    if (readOnly && openDatabase === undefined) {
      this.snapshotDir = await fse.mkdtemp(path.join(os.tmpdir(), 'spool-groups-'))
      if (await fse.pathExists(dir)) await fse.copy(dir, this.snapshotDir, { filter: (file) => path.basename(file) !== 'LOCK' })
      dir = this.snapshotDir
    }
    this.store = await OffsetStore.open(dir, openDatabase)
    const coordinator = new GroupCoordinator({
      store: this.store,
      partitionsOf: (topic) => (topics.has(topic) ? topics.partitionCount(topic) : 0),
      now: clock,
      logger,
      onRebalance: (event) => this.rebalanced(event),
    })
    if (!readOnly) {
      this.ticker = setInterval(() => void coordinator.tick().catch((error: unknown) => logger.warn(`group session check failed: ${String(error)}`)), COORDINATOR_TICK_MS)
      this.ticker.unref()
    }
    return coordinator
  }

  /** Listens to every rebalance of every group; returns the function that stops it. */
  onRebalance(listener: (event: RebalanceEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Registers a member's wake-up call for news of its group; returns the function that removes it. */
  register(group: string, wake: () => void): () => void {
    let set = this.members.get(group)
    if (set === undefined) this.members.set(group, (set = new Set()))
    set.add(wake)
    return () => {
      set.delete(wake)
      if (set.size === 0) this.members.delete(group)
    }
  }

  /** Asks the group's members to check in with the coordinator (after a rebalance or a confirmed revoke). */
  wake(group: string): void {
    for (const wake of this.members.get(group) ?? []) queueMicrotask(wake)
  }

  /** A topic was created, deleted or grew: groups subscribed to it rebalance. */
  async partitionsChanged(topic: string): Promise<void> {
    if (this.opening === null) return
    await (await this.opening).partitionsChanged(topic)
  }

  private rebalanced(event: RebalanceEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch (error) {
        this.options.logger.warn(`a rebalance listener threw: ${String(error)}`)
      }
    }
    this.wake(event.group)
  }

  async close(): Promise<void> {
    if (this.ticker !== null) clearInterval(this.ticker)
    await this.opening?.catch(() => undefined)
    await this.store?.close()
    if (this.snapshotDir !== null) await fse.remove(this.snapshotDir)
  }
}
