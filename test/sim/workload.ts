import path from 'node:path'
import { openSpool } from '../../src/client/spool.js'
import type { StorageIO } from '../../src/storage/io.js'
import type { Logger } from '../../src/storage/logger.js'
import { type Loop, type Outcome, drive } from './drive.js'
import { type Failure, Failures, describeError } from './failures.js'
import { pickProducerCodec, retryAfterReopen } from './idempotent.js'
import { checkReopened } from './invariants.js'
import { GroupModel, Model } from './model.js'
import { type Plan, makePlan } from './plan.js'
import { Random } from './random.js'
import { SimDisk } from './sim-disk.js'
import { SimLevels } from './sim-level.js'
import { type SpoolProcess, type World, createMissingStableTopics, pickStep } from './steps.js'
import { VirtualTime } from './virtual-time.js'

/** What one seed found, and how it got there. */
export interface SeedResult {
  seed: number
  failures: Failure[]
  trace: string[]
  /** Power cuts made (recovery crashes included). */
  cuts: number
  steps: number
}

export interface WorkloadOptions {
  /** Phases (each ending with a power cut), at least and at most. */
  phases?: readonly [number, number]
  stepsPerPhase?: readonly [number, number]
  /**
   * Whether the data directory exists, durably, before the first open (as when an
   * installer made it); by default the seed decides, so that the engine's own creation
   * of it is cut too.
   */
  prepareDataDir?: boolean
  /** Wraps the disk's StorageIO before the spool gets it: a test breaks the engine on purpose to show the checks catch it. */
  wrapIO?: (io: StorageIO) => StorageIO
}

const DATA_DIR = '/sim/data'
/** Virtual start time: fixed, so that timestamps replay too. */
const START_MS = 1_700_000_000_000
/** Virtual time one step may take before it counts as hung. */
const STEP_MAX_MS = 120_000
/** Calls a step makes, about: the budget is drawn over the phase's expected calls so cuts land anywhere in it. */
const CALLS_PER_STEP = 40
const RECOVERY_CRASH_CHANCE = 0.3
/** Calls an open of the workload's directory makes, about: a crash in recovery lands anywhere in it. */
const OPEN_CALLS = 250

/**
 * One seed of the power-cut simulation. A spool runs on the simulated disk and LevelDB;
 * a seeded workload (sends under every flush policy, compressed or not, idempotent
 * appends and their retries (idempotent.ts), rolls, retention, compaction, topic churn,
 * group polls and commits, time passing, clean restarts) runs until the disk dies
 * after a random budget of calls; the power is cut, the abandoned instance is dropped,
 * sometimes the power is cut again in the middle of the next open (a crash in recovery),
 * and a fresh open must succeed by itself and pass the checks of invariants.ts. Then the
 * workload goes on, for a few such phases. Everything comes from the seed: a seed
 * replays exactly, trace included.
 */
export async function runSeed(seed: number, options: WorkloadOptions = {}): Promise<SeedResult> {
  const time = new VirtualTime(START_MS)
  const uninstall = time.install()
  try {
    return await new Simulation(seed, time, options).run()
  } finally {
    uninstall()
  }
}

class Simulation {
  private readonly random: Random
  private readonly disk: SimDisk
  private readonly levels: SimLevels
  private readonly loop: Loop
  private readonly model = new Model()
  private readonly failures = new Failures()
  private readonly trace: string[] = []
  private readonly plan: Plan
  private cuts = 0
  private steps = 0

  constructor(
    private readonly seed: number,
    private readonly time: VirtualTime,
    private readonly options: WorkloadOptions,
  ) {
    this.random = new Random(seed)
    // Separate streams: the disk's draws (delays, tears) do not shift the workload's.
    this.disk = new SimDisk({ random: this.random.fork(), onEvent: (message) => this.log(`  disk: ${message}`) })
    this.levels = new SimLevels(this.disk)
    this.loop = { time, disk: this.disk }
    this.plan = makePlan(this.random.fork())
    for (const group of this.plan.groups) this.model.groups.push(new GroupModel(group.name, group.topics))
  }

  async run(): Promise<SeedResult> {
    const [minPhases, maxPhases] = this.options.phases ?? [1, 3]
    const phases = this.random.between(minPhases, maxPhases)
    if (this.options.prepareDataDir ?? this.random.chance(0.5)) await this.prepareDataDir()
    let process: SpoolProcess | null = null
    for (let phase = 0; phase < phases && this.failures.count === 0; phase++) {
      process = await this.runPhase(process)
      this.powerCut()
      if (this.random.chance(RECOVERY_CRASH_CHANCE)) await this.crashDuringOpen()
      process = await this.reopenAndCheck()
      if (process === null) break
    }
    return { seed: this.seed, failures: this.failures.list, trace: this.trace, cuts: this.cuts, steps: this.steps }
  }

  /** `mkdir -p` of the data directory and an fsync of each parent, as an installer that syncs would do. */
  private async prepareDataDir(): Promise<void> {
    const io = this.disk.io()
    await io.mkdirp(DATA_DIR)
    for (let dir = path.dirname(DATA_DIR); ; dir = path.dirname(dir)) {
      const fd = await io.open(dir, 'r')
      await io.fsync(fd)
      await io.close(fd)
      if (dir === '/') break
    }
    this.log(`${DATA_DIR} made durably before the first open`)
  }

  /** Steps until the disk dies (or the phase's steps are done); returns the process, if any, to abandon. */
  private async runPhase(process: SpoolProcess | null): Promise<SpoolProcess | null> {
    const [minSteps, maxSteps] = this.options.stepsPerPhase ?? [6, 24]
    const steps = this.random.between(minSteps, maxSteps)
    const budget = this.random.between(0, steps * CALLS_PER_STEP)
    this.disk.dieAfter(budget)
    this.log(`phase: ${steps} steps, the disk dies at call ${this.disk.calls + budget} of boot ${this.disk.boot}`)
    if (process === null) {
      process = await this.openForSteps()
      if (process === null) return null
    }
    const world = this.world(process)
    await this.runStep(world, 'stable topics', createMissingStableTopics)
    for (let i = 0; i < steps && !this.disk.dead && this.failures.count === 0; i++) {
      await this.runStep(world, 'step', pickStep(world))
    }
    return world.process
  }

  private async openForSteps(): Promise<SpoolProcess | null> {
    const opened = await this.drive(this.open())
    if (opened.status === 'fulfilled') return opened.value
    if (!this.disk.dead) this.failures.add('unexpected-error', `the first open failed on a healthy disk: ${this.describe(opened)}`)
    return null
  }

  private world(process: SpoolProcess): World {
    return {
      random: this.random,
      model: this.model,
      plan: this.plan,
      failures: this.failures,
      disk: this.disk,
      levels: this.levels,
      loop: this.loop,
      dataDir: DATA_DIR,
      process,
      reopen: () => this.open(),
    }
  }

  private async runStep(world: World, what: string, step: (world: World) => Promise<string>): Promise<void> {
    this.steps++
    const callsBefore = this.disk.calls
    const outcome = await this.drive(step(world))
    const where = `[boot ${this.disk.boot}, calls ${callsBefore}..${this.disk.calls}]`
    if (outcome.status === 'fulfilled') {
      this.log(`${where} ${outcome.value}`)
      return
    }
    this.log(`${where} ${what} ${outcome.status}: ${this.describe(outcome)}${this.disk.dead ? ' (the disk is dead)' : ''}`)
    if (this.disk.dead) return
    if (outcome.status === 'hung') this.failures.add('hang', `a ${what} did not finish within ${STEP_MAX_MS} ms of virtual time`)
    else this.failures.add('unexpected-error', `a ${what} failed on a healthy disk: ${this.describe(outcome)}`)
  }

  /** The power goes: timers of the dead process go with it, and so do its disk and LevelDB handles. */
  private powerCut(): void {
    this.cuts++
    this.log(`POWER CUT at call ${this.disk.calls} of boot ${this.disk.boot}${this.disk.dead ? ' (the disk had died)' : ''}`)
    this.time.clear()
    this.disk.powerCut()
    this.model.faultyTopics.clear()
  }

  /** The power goes again while the next open is recovering. */
  private async crashDuringOpen(): Promise<void> {
    const budget = this.random.between(0, OPEN_CALLS)
    this.disk.dieAfter(budget)
    const opened = await this.drive(this.open())
    this.log(`open with the disk dying after ${budget} calls: ${opened.status === 'fulfilled' ? 'opened' : this.describe(opened)}`)
    if (opened.status === 'rejected' && !this.disk.dead) {
      this.failures.add('reopen-refused', `an open after a power cut failed on a healthy disk: ${this.describe(opened)}`)
    }
    this.powerCut()
  }

  /** The open after a power cut must succeed by itself, and what it finds must pass the checks. */
  private async reopenAndCheck(): Promise<SpoolProcess | null> {
    const opened = await this.drive(this.open())
    if (opened.status !== 'fulfilled') {
      this.failures.add('reopen-refused', `the open after a power cut failed: ${this.describe(opened)}`)
      this.log(`reopen failed: ${this.describe(opened)}`)
      return null
    }
    this.log(`reopened (boot ${this.disk.boot})`)
    const checked = await this.drive(checkReopened(opened.value.spool, this.model, this.failures))
    if (checked.status !== 'fulfilled') this.failures.add('unreadable', `the checks after the reopen failed: ${this.describe(checked)}`)
    if (this.failures.count > 0) return null
    // Idempotent batches in flight at the cut are sent again (half of them), and a few stored ones: each answer is checked.
    const retried = await this.drive(retryAfterReopen(this.world(opened.value)))
    if (retried.status !== 'fulfilled') this.failures.add('unexpected-error', `the retries after the reopen failed: ${this.describe(retried)}`)
    else for (const line of retried.value) this.log(`  after the reopen: ${line}`)
    return this.failures.count === 0 ? opened.value : null
  }

  private async open(): Promise<SpoolProcess> {
    // Warnings name their boot: an abandoned instance still runs (and fails) after a cut.
    const boot = this.disk.boot
    const logger: Logger = { warn: (message) => this.log(`  warn (boot ${boot}): ${message}`) }
    const spool = await openSpool({
      dir: DATA_DIR,
      io: this.options.wrapIO?.(this.disk.io()) ?? this.disk.io(),
      openGroupDatabase: this.levels.opener(),
      clock: () => this.time.now,
      cleanerIntervalMs: 0,
      logger,
    })
    return { spool, producer: spool.producer({ compression: pickProducerCodec(this.random) }), consumers: new Map() }
  }

  private drive<T>(promise: Promise<T>): Promise<Outcome<T>> {
    return drive(this.loop, promise, STEP_MAX_MS)
  }

  private describe(outcome: Outcome<unknown>): string {
    if (outcome.status === 'rejected') return describeError(outcome.reason)
    return outcome.status
  }

  private log(line: string): void {
    this.trace.push(line)
  }
}
