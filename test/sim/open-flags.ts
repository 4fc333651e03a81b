/** What an `open` flags string asks for, as node:fs reads it. */
export interface OpenMode {
  read: boolean
  write: boolean
  create: boolean
  /** Fail with EEXIST if the file exists ('x'). */
  exclusive: boolean
  truncate: boolean
  /** Every write goes to the end, whatever position it names (O_APPEND). */
  append: boolean
  /** Every write is durable when it returns (O_SYNC). */
  sync: boolean
}

function mode(read: boolean, write: boolean, extra: Partial<OpenMode> = {}): OpenMode {
  return { read, write, create: false, exclusive: false, truncate: false, append: false, sync: false, ...extra }
}

const truncate = { create: true, truncate: true }
const append = { create: true, append: true }

/** Node's string flags (see fs.open), each spelling it accepts. */
const FLAGS: Record<string, OpenMode> = {
  r: mode(true, false),
  rs: mode(true, false, { sync: true }),
  sr: mode(true, false, { sync: true }),
  'r+': mode(true, true),
  'rs+': mode(true, true, { sync: true }),
  'sr+': mode(true, true, { sync: true }),
  w: mode(false, true, truncate),
  wx: mode(false, true, { ...truncate, exclusive: true }),
  xw: mode(false, true, { ...truncate, exclusive: true }),
  'w+': mode(true, true, truncate),
  'wx+': mode(true, true, { ...truncate, exclusive: true }),
  'xw+': mode(true, true, { ...truncate, exclusive: true }),
  a: mode(false, true, append),
  ax: mode(false, true, { ...append, exclusive: true }),
  xa: mode(false, true, { ...append, exclusive: true }),
  as: mode(false, true, { ...append, sync: true }),
  sa: mode(false, true, { ...append, sync: true }),
  'a+': mode(true, true, append),
  'ax+': mode(true, true, { ...append, exclusive: true }),
  'xa+': mode(true, true, { ...append, exclusive: true }),
  'as+': mode(true, true, { ...append, sync: true }),
  'sa+': mode(true, true, { ...append, sync: true }),
}

/** The mode of a flags string, or null for one node:fs would refuse. */
export function parseOpenFlags(flags: string): OpenMode | null {
  return FLAGS[flags] ?? null
}
