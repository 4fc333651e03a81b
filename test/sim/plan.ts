import type { FlushKind, TopicSpec } from './model.js'
import type { Random } from './random.js'

/**
 * The topics and groups of one seed. Stable topics (one per flush policy, plus one under
 * compaction and one under retention) are created once and read by groups; churn topics
 * are deleted and created again under the same name, with any policy.
 *
 * Groups read only stable topics: a group on a topic deleted and created again resumes
 * from the old incarnation's offset today, which is issue 13's defect 6, not a power-cut
 * one. Each group has one member at a time, so that assignment (which orders members by
 * random ids) cannot make a replay differ.
 */
export interface Plan {
  stable: Map<string, TopicSpec>
  churnNames: string[]
  groups: Array<{ name: string; topics: string[] }>
  /** A churn topic's spec for its next incarnation. */
  churnSpec(): TopicSpec
}

/** Small segments, so that a handful of records rolls them. */
function segmentBytes(random: Random): number {
  return random.between(200, 900)
}

function flushOption(kind: FlushKind, random: Random): TopicSpec['options']['flush'] {
  return kind === 'interval' ? { intervalMs: random.between(20, 200) } : kind
}

/** Sometimes a segment also rolls by age, when the workload lets time pass. */
function segmentMs(random: Random): Partial<TopicSpec['options']> {
  return random.chance(0.3) ? { segmentMs: random.between(1_000, 8_000) } : {}
}

function spec(random: Random, flush: FlushKind, extra: Partial<TopicSpec['options']> = {}): TopicSpec {
  const options = { partitions: random.between(1, 2), flush: flushOption(flush, random), segmentBytes: segmentBytes(random), ...segmentMs(random), ...extra }
  return { flush, options, compacted: options.cleanup === 'compact', retained: options.retentionBytes !== undefined || options.retentionMs !== undefined }
}

/** A churn topic is sometimes under retention, by size or by age. */
function churnRetention(random: Random): Partial<TopicSpec['options']> {
  return random.weighted<Partial<TopicSpec['options']>>([
    [6, {}],
    [2, { retentionBytes: random.between(300, 1500) }],
    [2, { retentionMs: random.between(1_000, 10_000) }],
  ])
}

export function makePlan(random: Random): Plan {
  const retainBytes = random.between(200, 900)
  const stable = new Map<string, TopicSpec>([
    ['always-a', spec(random, 'always')],
    ['never-a', spec(random, 'never')],
    ['interval-a', spec(random, 'interval')],
    ['compact-a', spec(random, 'always', { cleanup: 'compact', partitions: 1 })],
    ['retain-a', spec(random, 'always', { retentionBytes: retainBytes })],
  ])
  return {
    stable,
    churnNames: ['churn-0', 'churn-1'],
    groups: [
      { name: 'g-0', topics: ['always-a', 'never-a'] },
      { name: 'g-1', topics: ['interval-a', 'compact-a', 'retain-a'] },
    ],
    churnSpec: () => spec(random, random.pick<FlushKind>(['always', 'never', 'interval']), churnRetention(random)),
  }
}
