import fs from 'node:fs'
import os from 'node:os'

export interface MachineInfo {
  os: string
  arch: string
  cpu: string
  cpuCount: number
  memoryBytes: number
  node: string
  v8: string
  tmpdir: string
  /** File system type of the temp dir (Linux only), which decides what fdatasync costs. */
  tmpdirFileSystem: string | null
  /** 1, 5 and 15 minute load averages when asked: other work on the machine shows up in the latency tails. */
  loadAverage: number[]
}

/** The mount whose point is the longest prefix of `dir`, from /proc/mounts. */
function fileSystemOf(dir: string): string | null {
  try {
    const real = fs.realpathSync(dir)
    let best: { point: string; type: string } | null = null
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, point, type] = line.split(' ')
      if (point === undefined || type === undefined) continue
      const inside = real === point || real.startsWith(point.endsWith('/') ? point : `${point}/`)
      if (inside && (best === null || point.length > best.point.length)) best = { point, type }
    }
    return best === null ? null : `${best.type} on ${best.point}`
  } catch {
    return null
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus()
  return {
    os: `${os.type()} ${os.release()} (${os.platform()})`,
    arch: os.arch(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    v8: process.versions.v8,
    tmpdir: os.tmpdir(),
    tmpdirFileSystem: fileSystemOf(os.tmpdir()),
    loadAverage: os.loadavg().map((n) => Number(n.toFixed(2))),
  }
}
