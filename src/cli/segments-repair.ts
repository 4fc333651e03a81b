import path from 'node:path'
import { Command } from 'commander'
import { DEFAULT_INDEX_INTERVAL_BYTES, DEFAULT_MAX_BATCH_BYTES } from '../limits.js'
import { type DirLock, acquireDirLock } from '../storage/dir-lock.js'
import { nodeIO } from '../storage/io.js'
import { stderrLogger } from '../storage/logger.js'
import { type RepairPlan, executeRepair, planRepair } from '../storage/quarantine.js'
import { type QuarantinedRange, quarantineFileName } from '../storage/quarantine-record.js'
import type { SegmentContext } from '../storage/segment.js'
import { type CliStreams, type GlobalOptions, writeJson, writeLine } from './output.js'
import { lockDirOf, partitionDirs, topicConfigOf } from './partition-dirs.js'

/**
 * `spool segments repair [target] [--execute]`: the explicit answer to a CORRUPT_BATCH
 * that recovery refuses to guess about. Without --execute it prints, per partition, the
 * damaged byte ranges it would move aside and the offsets they leave as gaps, and changes
 * nothing (like `groups reset-offsets`). With --execute it takes the writer's lock as an
 * open does (LOCKED while an application has the directory) and carries the plan out
 * (src/storage/quarantine.ts says how, crash-safely).
 */
interface ShownRange {
  segment: string
  position: number
  bytes: number
  firstOffset: number
  endOffset: number | null
  why: string
  /** The quarantine file (to be) written. */
  file: string
}

interface ShownPlan {
  dir: string
  ranges: ShownRange[]
}

function shown(plan: RepairPlan, recorded: readonly QuarantinedRange[] | null): ShownPlan {
  const fileOf = (log: string, position: number, firstOffset: number): string => {
    const name = path.basename(log)
    const moved = recorded?.find((r) => r.segment === name && r.firstOffset === firstOffset)
    return path.join(plan.dir, moved?.file ?? quarantineFileName(name, position))
  }
  return {
    dir: plan.dir,
    ranges: plan.segments.flatMap((segment) =>
      segment.ranges.map((range) => ({
        segment: segment.log,
        position: range.position,
        bytes: range.end - range.position,
        firstOffset: range.firstOffset,
        endOffset: range.endOffset,
        why: range.why,
        file: fileOf(segment.log, range.position, range.firstOffset),
      })),
    ),
  }
}

function planText(plans: readonly ShownPlan[], executed: boolean): string {
  const lines: string[] = []
  for (const plan of plans) {
    if (plan.ranges.length === 0) {
      lines.push(`${plan.dir}: no damage`)
      continue
    }
    lines.push(`${plan.dir}: ${plan.ranges.length} damaged range(s)`)
    for (const r of plan.ranges) {
      const offsets = r.endOffset === null ? `offsets from ${r.firstOffset} on (the log is cut there, as at a torn tail)` : `offsets ${r.firstOffset}..${r.endOffset - 1} become a gap`
      lines.push(`  ${r.segment}: ${r.bytes} bytes at byte ${r.position}; ${offsets}: ${r.why}`, `    ${executed ? 'moved to' : 'would move to'} ${r.file}`)
    }
  }
  if (!plans.some((plan) => plan.ranges.length > 0)) lines.push('nothing to repair')
  else if (executed) lines.push('done: the damaged bytes are in the quarantine files, listed in each partition’s quarantine.json; reads skip the gaps with a warning')
  else lines.push('dry run: nothing changed; add --execute to move these bytes aside (refused while a writer has the directory open)')
  return lines.join('\n')
}

/** A partition's storage context for a repair: its topic's index interval, the engine's batch limit. */
async function repairContext(dir: string, readOnly: boolean): Promise<SegmentContext> {
  const config = await topicConfigOf(dir)
  return {
    io: nodeIO,
    dir,
    readOnly,
    maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
    indexIntervalBytes: config?.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES,
    logger: stderrLogger,
  }
}

/** Plans under the locks and carries the plans out; the plans are made again under the lock, never trusted from a dry run. */
async function repairLocked(dirs: readonly string[]): Promise<ShownPlan[]> {
  const locks = new Map<string, DirLock>()
  try {
    for (const lockDir of new Set(dirs.map(lockDirOf))) locks.set(lockDir, await acquireDirLock(lockDir, nodeIO))
    const plans: ShownPlan[] = []
    for (const dir of dirs) {
      const ctx = await repairContext(dir, false)
      const plan = await planRepair(ctx)
      plans.push(shown(plan, await executeRepair(ctx, plan, Date.now())))
    }
    return plans
  } finally {
    for (const lock of locks.values()) await lock.release()
  }
}

export function repairCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('repair')
    .description('move damaged bytes out of segments into quarantine files, leaving recorded gaps (a dry run without --execute)')
    .argument('[target]', 'a partition directory, a data directory or a topic name (default: the whole --data-dir)')
    .option('--execute', 'move the bytes (without it, nothing changes)')
    .action(async (target: string | undefined, flags: { execute?: boolean }) => {
      const { dataDir, json } = globals()
      const executed = flags.execute === true
      const dirs = partitionDirs(target, dataDir)
      const plans = executed ? await repairLocked(dirs) : await Promise.all(dirs.map(async (dir) => shown(await planRepair(await repairContext(dir, true)), null)))
      if (json) writeJson(out.stdout, { executed, partitions: plans })
      else writeLine(out.stdout, planText(plans, executed))
    })
}
