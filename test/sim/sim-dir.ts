import type { SimFile } from './sim-file.js'

export type SimNode = SimFile | SimDir

/**
 * One directory of the simulated disk: its entries as the file system shows them now, and
 * as of the last fsync of the directory itself. A create, rename, unlink or mkdir changes
 * the first at once and the second only when the directory is fsync'ed, as POSIX promises
 * (and no more: ext4 often persists more, which is exactly what a test must not rely on).
 */
export class SimDir {
  readonly kind = 'dir'
  readonly entries = new Map<string, SimNode>()
  private durableEntries = new Map<string, SimNode>()

  sync(): void {
    this.durableEntries = new Map(this.entries)
  }

  /** The power went out: the entries are those of the last fsync. */
  revert(): void {
    this.entries.clear()
    for (const [name, node] of this.durableEntries) this.entries.set(name, node)
  }

  /** Entry names, sorted (so that a walk visits files in the same order every run). */
  names(): string[] {
    return [...this.entries.keys()].sort()
  }
}

/**
 * Applies a power cut to the tree under `root`: every directory reachable after the cut
 * goes back to its durable entries, and `onFile` is called once per file left reachable
 * (in a fixed order). What is not reachable any more is simply gone.
 */
export function revertTree(root: SimDir, onFile: (file: SimFile) => void): void {
  const seen = new Set<SimNode>()
  const walk = (dir: SimDir): void => {
    if (seen.has(dir)) return
    seen.add(dir)
    dir.revert()
    for (const name of dir.names()) {
      const node = dir.entries.get(name)!
      if (node.kind === 'dir') walk(node)
      else if (!seen.has(node)) {
        seen.add(node)
        onFile(node)
      }
    }
  }
  walk(root)
}
