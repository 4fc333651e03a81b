import fs from 'node:fs'
import path from 'node:path'
import { SpoolError } from '../errors.js'
import { nodeIO } from '../storage/io.js'
import { LOG_SUFFIX, parseSegmentFileName } from '../storage/paths.js'
import { CATALOG_FILE, parsePartitionDir, readCatalog } from '../topics/catalog.js'
import type { TopicConfig } from '../topics/topic-config.js'

/**
 * The partition directories a `segments` command works on, found from the files alone
 * (so that inspection works on a copied directory and beside a running application),
 * and what the data directory around them says of them.
 */

/** The partition directories a target names: a partition dir, a data dir, or a topic. */
export function partitionDirs(target: string | undefined, dataDir: string): string[] {
  const isPartitionDir = (dir: string): boolean => fs.readdirSync(dir).some((name) => name.endsWith(LOG_SUFFIX))
  const partitionsIn = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && parsePartitionDir(e.name) !== null)
      .map((e) => path.join(dir, e.name))
      .sort()
  if (target !== undefined && fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    return isPartitionDir(target) ? [target] : partitionsIn(target)
  }
  if (!fs.existsSync(dataDir)) throw new SpoolError('INVALID_ARGUMENT', `the data directory ${dataDir} does not exist`, { details: { field: 'data-dir' } })
  const all = partitionsIn(dataDir)
  if (target === undefined) return all
  const mine = all.filter((dir) => parsePartitionDir(path.basename(dir))?.topic === target)
  if (mine.length === 0) throw new SpoolError('UNKNOWN_TOPIC', `no partition of topic "${target}" in ${dataDir}`, { details: { topic: target } })
  return mine
}

/** The segment `.log` names of a partition directory, oldest first. */
export function segmentLogs(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(LOG_SUFFIX) && parseSegmentFileName(name) !== null)
    .sort()
}

/** A spool data directory holds a topic catalog; a partition directory without one around it is a standalone log. */
function dataDirOf(partitionDir: string): string | null {
  const parent = path.dirname(path.resolve(partitionDir))
  return fs.existsSync(path.join(parent, CATALOG_FILE)) ? parent : null
}

/** The directory whose writer lock an open of this partition takes: its data directory, or itself for a standalone log. */
export function lockDirOf(partitionDir: string): string {
  return dataDirOf(partitionDir) ?? partitionDir
}

/** The partition's topic configuration from its data directory's catalog, or null when there is none that reads. */
export async function topicConfigOf(partitionDir: string): Promise<TopicConfig | null> {
  const dataDir = dataDirOf(partitionDir)
  const topic = parsePartitionDir(path.basename(partitionDir))?.topic
  if (dataDir === null || topic === undefined) return null
  try {
    return (await readCatalog(nodeIO, dataDir)).find((entry) => entry.name === topic)?.config ?? null
  } catch {
    return null // a damaged catalog is for `topics` to report; callers assume the strictest settings
  }
}
