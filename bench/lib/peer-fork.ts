/**
 * The peers (bench/peers), each measured in a process of its own, as spool's workloads
 * are: one process per peer and value size for W1/W2, one per peer for W3. A peer that is
 * not installed is skipped with one line saying how to install it; a peer that fails is
 * reported as skipped with the failure and measured no more, so one broken peer does not
 * void the run. (bench/peers/index.ts's PeerRun does the same in one process.)
 */
import { PEERS } from '../peers/index.js'
import type { Peer, PeerLatencyOptions, PeerReport, PeerResult, PeerRunOptions } from '../peers/peer.js'
import type { DatasetSpec } from './dataset.js'
import { forkJob } from './fork.js'
import type { MemoryPeak } from './memory.js'

/** A peer figure with the peaks of the process that measured it (for a server peer: the client's process only). */
export type PeerResultWithMemory = PeerResult & { memory: MemoryPeak }

export class ForkedPeers {
  private constructor(
    readonly reports: PeerReport[],
    /** The peers still measured, by name. */
    private readonly live: Map<string, Peer>,
  ) {}

  /** Probes every peer (or only those named) in this process; prints a line for each one skipped. */
  static async probe(only: readonly string[] | null): Promise<ForkedPeers> {
    const reports: PeerReport[] = []
    const live = new Map<string, Peer>()
    for (const peer of PEERS.filter((p) => only === null || only.includes(p.name))) {
      const probed = await peer.probe()
      const skipped = 'missing' in probed ? `not installed: ${probed.missing} (run scripts/install-peers.sh)` : null
      if (skipped === null) live.set(peer.name, peer)
      else process.stderr.write(`peer ${peer.name}: skipped, ${skipped}\n`)
      reports.push({ peer: peer.name, version: 'version' in probed ? probed.version : null, skipped, results: [] })
    }
    return new ForkedPeers(reports, live)
  }

  throughput(spec: DatasetSpec, options: PeerRunOptions): Promise<void> {
    return this.each(`W1/W2 at ${spec.valueBytes} B`, () => true, (peer) => forkJob('peer.throughput', { peer, spec, options }))
  }

  latency(options: PeerLatencyOptions): Promise<void> {
    return this.each('W3', (peer) => peer.latency !== undefined, (peer) => forkJob('peer.latency', { peer, options }))
  }

  /** Runs `measure` for every live peer that `applies` to, each in its own process; a failure marks that peer skipped. */
  private async each(what: string, applies: (peer: Peer) => boolean, measure: (name: string) => Promise<{ value: PeerResult[]; memory: MemoryPeak }>): Promise<void> {
    for (const [name, peer] of this.live) {
      if (!applies(peer)) continue
      const report = this.reports.find((r) => r.peer === name)!
      try {
        const { value, memory } = await measure(name)
        report.results.push(...value.map((r): PeerResultWithMemory => ({ ...r, memory })))
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        report.skipped = `failed during ${what}: ${message.split('\n')[0]}`
        this.live.delete(name)
        process.stderr.write(`peer ${name}: ${what} failed, skipped from here on: ${message}\n`)
      }
    }
  }
}
