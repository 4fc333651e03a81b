/**
 * The peers spool is measured beside (issue 6): which ones exist, which are installed
 * here, and their W1/W2/W3 figures. A peer that is not installed is skipped with one
 * line that says how to install it; a peer that fails while measured is reported as
 * skipped with the failure, so one broken peer does not void spool's own run.
 *
 * `npx tsx bench/peers/index.ts [--quick] [--only NAME]`: the peers alone, for development.
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type Dataset, makeDataset } from '../lib/dataset.js'
import { hypercorePeer } from './hypercore.js'
import { leveldbPeer } from './leveldb.js'
import { natsPeer } from './nats.js'
import type { Peer, PeerLatencyOptions, PeerReport, PeerRunOptions } from './peer.js'
import { redisPeer } from './redis.js'
import { sqlitePeer } from './sqlite.js'

export const PEERS: readonly Peer[] = [sqlitePeer, leveldbPeer, hypercorePeer, redisPeer, natsPeer]

/** A peer's figures so far; `skipped` is set once and then it is measured no more. */
export class PeerRun {
  readonly reports: PeerReport[]
  private readonly peers: Map<string, Peer>

  private constructor(entries: { peer: Peer; report: PeerReport }[]) {
    this.reports = entries.map((e) => e.report)
    this.peers = new Map(entries.filter((e) => e.report.skipped === null).map((e) => [e.peer.name, e.peer]))
  }

  /** Probes every peer (or only those named); prints a line for each one skipped. */
  static async probe(only: readonly string[] | null): Promise<PeerRun> {
    const entries: { peer: Peer; report: PeerReport }[] = []
    for (const peer of PEERS.filter((p) => only === null || only.includes(p.name))) {
      const probed = await peer.probe()
      const skipped = 'missing' in probed ? `not installed: ${probed.missing} (run scripts/install-peers.sh)` : null
      if (skipped !== null) process.stderr.write(`peer ${peer.name}: skipped, ${skipped}\n`)
      entries.push({ peer, report: { peer: peer.name, version: 'version' in probed ? probed.version : null, skipped, results: [] } })
    }
    return new PeerRun(entries)
  }

  private report(name: string): PeerReport {
    return this.reports.find((r) => r.peer === name)!
  }

  /** Runs `measure` on every peer still in the run; a failure marks that peer skipped. */
  private async each(what: string, measure: (peer: Peer) => Promise<PeerReport['results']>): Promise<void> {
    for (const [name, peer] of this.peers) {
      try {
        this.report(name).results.push(...(await measure(peer)))
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        this.report(name).skipped = `failed during ${what}: ${message}`
        this.peers.delete(name)
        process.stderr.write(`peer ${name}: ${what} failed, skipped from here on: ${message}\n`)
      }
    }
  }

  throughput(data: Dataset, options: PeerRunOptions): Promise<void> {
    return this.each(`W1/W2 at ${data.valueBytes} B`, (peer) => peer.throughput(data, options))
  }

  latency(options: PeerLatencyOptions): Promise<void> {
    return this.each('W3', async (peer) => (peer.latency === undefined ? [] : peer.latency(options)))
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string', multiple: true } }, strict: true })
  const quick = values.quick
  const run = await PeerRun.probe(values.only ?? null)
  const options: PeerRunOptions = { mode: quick ? 'quick' : 'full', runs: 3, budgetSeconds: quick ? 4 : 60 }
  for (const valueBytes of [100, 1024]) {
    const data = makeDataset({ records: quick ? 50_000 : 1_000_000, batchRecords: 1_000, keyBytes: 16, valueBytes, seed: 0x5eed })
    await run.throughput(data, options)
  }
  await run.latency({ ratePerSec: 10_000, seconds: quick ? 1 : 5, keyBytes: 16, valueBytes: 100, seed: 0x5eed, runs: 3 })
  process.stdout.write(`${JSON.stringify(run.reports, null, 2)}\n`)
}
