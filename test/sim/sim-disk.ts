import path from 'node:path'
import type { HeldLock, StorageIO } from '../../src/storage/io.js'
import { type FsErrorCode, fsError } from './fs-errors.js'
import { type OpenMode, parseOpenFlags } from './open-flags.js'
import type { Random } from './random.js'
import { SimDir, type SimNode, revertTree } from './sim-dir.js'
import { SimFile } from './sim-file.js'

export interface SimDiskOptions {
  /** Every choice the disk makes (tears, delays, short writes, readdir order) comes from it. */
  random: Random
  /** Chance that, at a power cut, a file's last unsynced write survives as a torn prefix (default 0.5). */
  tornWriteChance?: number
  /**
   * An async call completes after 0..maxDelayHops turns of the event loop (default 2), so
   * that concurrent calls interleave in seeded, varied orders; 0 completes them in order.
   */
  maxDelayHops?: number
  /** Chance that a write writes only part of what it was given (callers must loop; default 0.02). */
  shortWriteChance?: number
  /** Directory listings in a seeded random order, as a real one has no order (default true). */
  shuffleReaddir?: boolean
  /** Told when an injected fault fires or the disk dies, for a run's trace. */
  onEvent?: (message: string) => void
}

/** An open file description of one boot. */
interface Descriptor {
  node: SimNode
  path: string
  mode: OpenMode
}

/** The StorageIO of one boot: once the power is cut, every call on it fails with EIO. */
export interface SimIO extends StorageIO {
  readonly boot: number
}

const DIRECTORY_SIZE = 4096

function lockedError(dir: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${dir} is locked by another holder`), { code: 'ELOCKED' })
}

/**
 * An in-memory disk behind the StorageIO seam, in the spirit of TigerBeetle's simulated
 * storage and FoundationDB's simulator: it remembers, for every file, what is durable and
 * what is only written, and for every directory, its durable entries and its current
 * ones (sim-file.ts and sim-dir.ts say exactly what survives). `powerCut()` starts a new
 * boot in which only the durable state is left; the old boot's handles and descriptors
 * fail with EIO and change nothing, so an abandoned engine instance cannot touch it.
 *
 * For fault injection: `dieAfter(n)` makes every call after the next n of this boot fail
 * with EIO (the moment the power goes), and `failFsync(part)` makes the next fsync of a
 * matching file fail the way Linux does (its dirty data is then lost for good).
 */
export class SimDisk {
  private readonly root = new SimDir()
  private readonly random: Random
  private readonly tornWriteChance: number
  private readonly maxDelayHops: number
  private readonly shortWriteChance: number
  private readonly shuffleReaddir: boolean
  private readonly onEvent: (message: string) => void
  private bootNumber = 1
  private readonly descriptors = new Map<number, Descriptor>()
  /** Descriptor numbers are never reused across boots: an old one must not name a new file. */
  private nextFd = 3
  private firstFdOfBoot = 3
  private callsThisBoot = 0
  private deathAt: number | null = null
  private fsyncFaults: Array<{ pathPart: string; code: FsErrorCode }> = []
  private readonly locks = new Set<string>()
  private inFlightCalls = 0
  private readonly cutListeners: Array<() => void> = []

  constructor(options: SimDiskOptions) {
    this.random = options.random
    this.tornWriteChance = options.tornWriteChance ?? 0.5
    this.maxDelayHops = options.maxDelayHops ?? 2
    this.shortWriteChance = options.shortWriteChance ?? 0.02
    this.shuffleReaddir = options.shuffleReaddir ?? true
    this.onEvent = options.onEvent ?? (() => undefined)
    this.root.sync()
  }

  get boot(): number {
    return this.bootNumber
  }

  /** Calls made in this boot (the unit of `dieAfter`). */
  get calls(): number {
    return this.callsThisBoot
  }

  /** Whether this boot's calls now fail (see dieAfter). */
  get dead(): boolean {
    return this.deathAt !== null && this.callsThisBoot >= this.deathAt
  }

  /** Async calls started and not yet completed. */
  get inFlight(): number {
    return this.inFlightCalls
  }

  /** After `calls` more calls of this boot, every call fails with EIO until the power cut. */
  dieAfter(calls: number): void {
    this.deathAt = this.callsThisBoot + calls
  }

  /** The next fsync/fdatasync of a file whose path contains `pathPart` fails (see SimFile.writeback). */
  failFsync(pathPart: string, code: FsErrorCode = 'EIO'): void {
    this.fsyncFaults.push({ pathPart, code })
  }

  /** Called at each power cut, after the disk has reverted (the simulated LevelDB listens). */
  onPowerCut(listener: () => void): void {
    this.cutListeners.push(listener)
  }

  /**
   * The power goes out and comes back: every file and directory is as of its last fsync
   * (a torn prefix of a file's last unsynced write may survive), descriptors, handles and
   * locks of the old boot are dead, and the disk works again.
   */
  powerCut(): void {
    this.bootNumber++
    this.descriptors.clear()
    this.firstFdOfBoot = this.nextFd
    this.locks.clear()
    this.callsThisBoot = 0
    this.deathAt = null
    this.fsyncFaults = []
    revertTree(this.root, (file) => file.powerCut((length) => this.tornLength(file, length)))
    for (const listener of this.cutListeners) listener()
  }

  private tornLength(file: SimFile, length: number): number {
    if (!file.hasUnsyncedWrite || !this.random.chance(this.tornWriteChance)) return 0
    return this.random.between(1, length)
  }

  /**
   * Counts a call of boot `boot` on the budget; throws EIO if that boot is over or the disk
   * has died. The simulated LevelDB charges its calls here too, so one budget covers both.
   */
  charge(boot: number, syscall: string, file: string): void {
    if (boot !== this.bootNumber) throw fsError('EIO', syscall, file)
    if (this.dead) throw fsError('EIO', syscall, file)
    this.callsThisBoot++
    if (this.dead) this.onEvent(`the disk dies after call ${this.callsThisBoot} (${syscall} ${file})`)
  }

  /** The StorageIO of the current boot. */
  io(): SimIO {
    const boot = this.bootNumber
    const run = <T>(syscall: string, file: string, effect: () => T): Promise<T> => this.run(boot, syscall, file, effect)
    const now = <T>(syscall: string, file: string, effect: () => T): T => {
      this.charge(boot, syscall, file)
      return effect()
    }
    return {
      boot,
      open: (file, flags) => run('open', file, () => this.open(file, flags)),
      close: (fd) => run('close', this.pathOf(fd), () => this.close(fd)),
      writev: (fd, buffers, position) => run('write', this.pathOf(fd), () => this.writev(fd, buffers, position)),
      writevSync: (fd, buffers, position) => now('write', this.pathOf(fd), () => this.writev(fd, buffers, position)),
      read: (fd, buffer, offset, length, position) => run('read', this.pathOf(fd), () => this.read(fd, buffer, offset, length, position)),
      readSync: (fd, buffer, offset, length, position) => now('read', this.pathOf(fd), () => this.read(fd, buffer, offset, length, position)),
      fdatasync: (fd) => run('fdatasync', this.pathOf(fd), () => this.sync(fd, 'fdatasync')),
      fsync: (fd) => run('fsync', this.pathOf(fd), () => this.sync(fd, 'fsync')),
      ftruncate: (fd, length) => run('ftruncate', this.pathOf(fd), () => this.ftruncate(fd, length)),
      fstatSize: (fd) => run('fstat', this.pathOf(fd), () => this.sizeOf(this.descriptor(fd, 'fstat').node)),
      statSize: (file) => run('stat', file, () => this.sizeOf(this.existing(file, 'stat'))),
      readdir: (dir) => run('scandir', dir, () => this.readdir(dir)),
      mkdirp: (dir) => run('mkdir', dir, () => this.mkdirp(dir)),
      rename: (from, to) => run('rename', to, () => this.rename(from, to)),
      unlink: (file) => run('unlink', file, () => this.unlink(file)),
      removeTree: (dir) => run('rm', dir, () => this.removeTree(dir)),
      readFileIfExists: (file) => run('open', file, () => this.readFile(file)),
      lockDirectory: (dir) => run('lock', dir, () => this.lock(boot, dir)),
    }
  }

  // ---- inspection (no budget, no boot: for tests) -------------------------------------

  /** What readers see now, or null when there is no such file. */
  fileContents(file: string): Buffer | null {
    const node = this.find(file)
    return node?.kind === 'file' ? node.contents() : null
  }

  exists(file: string): boolean {
    return this.find(file) !== null
  }

  /** Entry names of a directory now, sorted; null when there is no such directory. */
  list(dir: string): string[] | null {
    const node = this.find(dir)
    return node?.kind === 'dir' ? node.names() : null
  }

  // ---- the calls ------------------------------------------------------------------------

  private async run<T>(boot: number, syscall: string, file: string, effect: () => T): Promise<T> {
    this.inFlightCalls++
    try {
      this.charge(boot, syscall, file)
      for (let hops = this.random.int(this.maxDelayHops + 1); hops > 0; hops--) await new Promise<void>((resolve) => setImmediate(resolve))
      // The power went out while the call was on its way to the disk: it never happened.
      if (boot !== this.bootNumber) throw fsError('EIO', syscall, file)
      return effect()
    } finally {
      this.inFlightCalls--
    }
  }

  private open(file: string, flags: string): number {
    const mode = parseOpenFlags(flags)
    if (mode === null) throw Object.assign(new TypeError(`invalid open flags: ${flags}`), { code: 'ERR_INVALID_ARG_VALUE' })
    const { parent, name } = this.parentOf(file, 'open')
    let node = name === '' ? parent : parent.entries.get(name)
    if (node !== undefined) {
      if (mode.create && mode.exclusive) throw fsError('EEXIST', 'open', file)
      if (node.kind === 'dir' && mode.write) throw fsError('EISDIR', 'open', file)
      if (node.kind === 'file' && mode.truncate) node.truncate(0)
    } else {
      if (!mode.create) throw fsError('ENOENT', 'open', file)
      node = new SimFile()
      parent.entries.set(name, node)
    }
    const fd = this.nextFd++
    this.descriptors.set(fd, { node, path: file, mode })
    return fd
  }

  private close(fd: number): void {
    this.descriptor(fd, 'close')
    this.descriptors.delete(fd)
  }

  private writev(fd: number, buffers: Buffer[], position: number): number {
    const { node, path: file, mode } = this.descriptor(fd, 'write')
    if (!mode.write) throw fsError('EBADF', 'write', file)
    if (node.kind === 'dir') throw fsError('EISDIR', 'write', file)
    let bytes = Buffer.concat(buffers)
    if (bytes.length > 1 && this.random.chance(this.shortWriteChance)) bytes = bytes.subarray(0, this.random.between(1, bytes.length - 1))
    node.write(bytes, mode.append ? node.size : position)
    if (mode.sync) node.writeback(true)
    return bytes.length
  }

  private read(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    const { node, path: file, mode } = this.descriptor(fd, 'read')
    if (!mode.read) throw fsError('EBADF', 'read', file)
    if (node.kind === 'dir') throw fsError('EISDIR', 'read', file)
    return node.read(buffer, offset, length, position)
  }

  private sync(fd: number, syscall: string): void {
    const { node, path: file } = this.descriptor(fd, syscall)
    const fault = this.fsyncFaults.findIndex((f) => file.includes(f.pathPart))
    if (fault >= 0) {
      const { code } = this.fsyncFaults.splice(fault, 1)[0]!
      this.onEvent(`${syscall} of ${file} fails with ${code} (call ${this.callsThisBoot})`)
      if (node.kind === 'file') node.writeback(false)
      throw fsError(code, syscall, file)
    }
    if (node.kind === 'file') node.writeback(true)
    else node.sync()
  }

  private ftruncate(fd: number, length: number): void {
    const { node, path: file, mode } = this.descriptor(fd, 'ftruncate')
    if (node.kind === 'dir' || !mode.write) throw fsError('EINVAL', 'ftruncate', file)
    node.truncate(length)
  }

  private sizeOf(node: SimNode): number {
    return node.kind === 'file' ? node.size : DIRECTORY_SIZE
  }

  private readdir(dir: string): string[] {
    const node = this.existing(dir, 'scandir')
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', dir)
    return this.shuffleReaddir ? this.random.shuffled(node.names()) : node.names()
  }

  private mkdirp(dir: string): void {
    let current = this.root
    for (const name of components(dir)) {
      const next = current.entries.get(name)
      if (next === undefined) {
        const created = new SimDir()
        current.entries.set(name, created)
        current = created
      } else if (next.kind === 'dir') current = next
      else throw fsError(next === this.find(dir) ? 'EEXIST' : 'ENOTDIR', 'mkdir', dir)
    }
  }

  private rename(from: string, to: string): void {
    const source = this.parentOf(from, 'rename')
    const node = source.parent.entries.get(source.name)
    if (node === undefined) throw fsError('ENOENT', 'rename', from)
    const target = this.parentOf(to, 'rename')
    const replaced = target.parent.entries.get(target.name)
    if (replaced === node) return
    if (node.kind === 'dir' && this.isInside(node, target.parent)) throw fsError('EINVAL', 'rename', to)
    if (replaced !== undefined) {
      if (node.kind === 'file' && replaced.kind === 'dir') throw fsError('EISDIR', 'rename', to)
      if (node.kind === 'dir' && replaced.kind === 'file') throw fsError('ENOTDIR', 'rename', to)
      if (replaced.kind === 'dir' && replaced.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', to)
    }
    target.parent.entries.set(target.name, node)
    source.parent.entries.delete(source.name)
  }

  private unlink(file: string): void {
    const { parent, name } = this.parentOf(file, 'unlink')
    const node = parent.entries.get(name)
    if (node === undefined) throw fsError('ENOENT', 'unlink', file)
    if (node.kind === 'dir') throw fsError('EISDIR', 'unlink', file)
    parent.entries.delete(name)
  }

  /** `rm -rf`: every directory under it is emptied (each change durable only by its own fsync). */
  private removeTree(dir: string): void {
    let located: { parent: SimDir; name: string }
    try {
      located = this.parentOf(dir, 'rm')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    const node = located.parent.entries.get(located.name)
    if (node === undefined) return
    const empty = (d: SimDir): void => {
      for (const child of d.entries.values()) if (child.kind === 'dir') empty(child)
      d.entries.clear()
    }
    if (node.kind === 'dir') empty(node)
    located.parent.entries.delete(located.name)
  }

  private readFile(file: string): Buffer | null {
    let node: SimNode | undefined
    try {
      const { parent, name } = this.parentOf(file, 'open')
      node = parent.entries.get(name)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
    if (node === undefined) return null
    if (node.kind === 'dir') throw fsError('EISDIR', 'read', file)
    return node.contents()
  }

  /** The kernel lock of this boot: it dies with the boot, as a real one dies with its process. */
  private lock(boot: number, dir: string): HeldLock {
    this.mkdirp(dir)
    const key = path.resolve(dir)
    if (this.locks.has(key)) throw lockedError(dir)
    this.locks.add(key)
    let released = false
    return {
      release: async () => {
        this.charge(boot, 'unlock', dir)
        if (released) return
        released = true
        this.locks.delete(key)
      },
    }
  }

  // ---- lookups --------------------------------------------------------------------------

  private pathOf(fd: number): string {
    return this.descriptors.get(fd)?.path ?? `fd:${fd}`
  }

  private descriptor(fd: number, syscall: string): Descriptor {
    const found = this.descriptors.get(fd)
    if (found !== undefined) return found
    // A descriptor of an earlier boot: the file it named is in a world that is gone.
    throw fsError(fd < this.firstFdOfBoot ? 'EIO' : 'EBADF', syscall)
  }

  private find(file: string): SimNode | null {
    let node: SimNode = this.root
    for (const name of components(file)) {
      if (node.kind !== 'dir') return null
      const next: SimNode | undefined = node.entries.get(name)
      if (next === undefined) return null
      node = next
    }
    return node
  }

  private existing(file: string, syscall: string): SimNode {
    const { parent, name } = this.parentOf(file, syscall)
    if (name === '') return parent
    const node = parent.entries.get(name)
    if (node === undefined) throw fsError('ENOENT', syscall, file)
    return node
  }

  /** The directory holding `file` (which must exist) and the entry's name; '' for the root itself. */
  private parentOf(file: string, syscall: string): { parent: SimDir; name: string } {
    const names = components(file)
    if (names.length === 0) return { parent: this.root, name: '' }
    let dir = this.root
    for (const name of names.slice(0, -1)) {
      const next = dir.entries.get(name)
      if (next === undefined) throw fsError('ENOENT', syscall, file)
      if (next.kind !== 'dir') throw fsError('ENOTDIR', syscall, file)
      dir = next
    }
    return { parent: dir, name: names[names.length - 1]! }
  }

  private isInside(dir: SimDir, candidate: SimDir): boolean {
    if (dir === candidate) return true
    for (const child of dir.entries.values()) if (child.kind === 'dir' && this.isInside(child, candidate)) return true
    return false
  }
}

/** The names along an absolute path ('/a/b' → ['a', 'b']). */
function components(file: string): string[] {
  if (!path.isAbsolute(file)) throw fsError('EINVAL', 'resolve', file)
  return path.resolve(file).split('/').filter((name) => name !== '')
}
