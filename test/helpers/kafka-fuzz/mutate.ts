import { MAX_KAFKA_REQUEST_BYTES } from '../../../src/limits.js'
import type { Random } from './random.js'

/**
 * Mutations of request frames (size prefix included), and the ways a stream of frames is
 * cut into TCP writes. Each mutation returns a new buffer and a short name, so that a
 * failure report says what was done to which frame.
 */

type Mutation = (random: Random, frame: Buffer, others: readonly Buffer[]) => Buffer

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff]
const INTERESTING_16 = [0, 1, 0x7fff, 0x8000, 0xffff, 0xfffe]
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x00ffffff, 0x10000]

function withSize(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length)
  out.writeInt32BE(body.length, 0)
  body.copy(out, 4)
  return out
}

/** The frame without its size prefix (or all of it, if too short to have one). */
function bodyOf(frame: Buffer): Buffer {
  return frame.length >= 4 ? frame.subarray(4) : frame
}

const flipBits: Mutation = (random, frame) => {
  const out = Buffer.from(frame)
  for (let n = random.between(1, 4); n > 0 && out.length > 4; n--) {
    const at = random.between(4, out.length - 1)
    out[at]! ^= 1 << random.int(8)
  }
  return out
}

const setInteresting: Mutation = (random, frame) => {
  const out = Buffer.from(frame)
  if (out.length < 8) return out
  const width = random.pick([1, 2, 4])
  const at = random.between(4, out.length - width)
  if (width === 1) out[at] = random.pick(INTERESTING_8)
  else if (width === 2) out.writeUInt16BE(random.pick(INTERESTING_16), at)
  else out.writeUInt32BE(random.pick(INTERESTING_32), at)
  return out
}

/**
 * Aims at length and count fields: positions where an int16, int32 or one-byte varint
 * reads as a length that fits what follows (what a string, bytes or array length looks
 * like), set to something that does not.
 */
const corruptLength: Mutation = (random, frame) => {
  const out = Buffer.from(frame)
  const candidates: Array<[number, 1 | 2 | 4]> = []
  for (let at = 12; at + 4 <= out.length; at++) {
    const rest = out.length - at
    const i16 = out.readInt16BE(at)
    if (i16 > 0 && i16 <= rest - 2) candidates.push([at, 2])
    const i32 = out.readInt32BE(at)
    if (i32 > 0 && i32 <= rest - 4) candidates.push([at, 4])
    if (out[at]! > 1 && out[at]! < 0x80 && out[at]! - 1 <= rest - 1) candidates.push([at, 1])
  }
  if (candidates.length === 0) return setInteresting(random, frame, [])
  const [at, width] = random.pick(candidates)
  if (width === 1) out[at] = random.pick([0x00, 0x7f, 0xff, out[at]! + 1])
  else if (width === 2) out.writeInt16BE(random.pick([-1, -2, 0x7fff, out.readInt16BE(at) + 1, out.readInt16BE(at) - 1]), at)
  else out.writeInt32BE(random.pick([-1, -2, 0x7fffffff, -0x80000000, out.readInt32BE(at) + 1, out.readInt32BE(at) - 1, 0x0fffffff]), at)
  return out
}

/** Cuts the body short; the size prefix then says the new length, or still the old one (the stream loses its framing). */
const truncate: Mutation = (random, frame) => {
  const body = bodyOf(frame)
  const cut = body.subarray(0, random.int(body.length + 1))
  return random.chance(0.7) ? withSize(cut) : Buffer.concat([frame.subarray(0, 4), cut])
}

const extend: Mutation = (random, frame) => {
  const body = Buffer.concat([bodyOf(frame), random.bytes(random.between(1, 64))])
  return random.chance(0.7) ? withSize(body) : Buffer.concat([frame.subarray(0, 4), body.subarray(0, body.length)])
}

const setSize: Mutation = (random, frame) => {
  const out = Buffer.from(frame)
  if (out.length < 4) return out
  const size = out.length - 4
  out.writeInt32BE(
    random.pick([0x7fffffff, -1, -0x80000000, MAX_KAFKA_REQUEST_BYTES + 1, MAX_KAFKA_REQUEST_BYTES, 0, random.int(8), size - 1, size + 1, size + random.between(2, 100), random.int(size + 100)]),
    0,
  )
  return out
}

/** Another API key or version in the header, the body left as it was. */
const wrongHeader: Mutation = (random, frame) => {
  const out = Buffer.from(frame)
  if (out.length < 8) return out
  if (random.chance(0.5)) out.writeInt16BE(random.weighted<number>([[60, random.between(-2, 70)], [40, random.pick([0, 1, 2, 3, 18, 19, 20, 22, 37])]]), 4)
  else out.writeInt16BE(random.weighted<number>([[70, random.between(-2, 20)], [30, random.pick([-1, 0x7fff, -0x8000])]]), 6)
  return out
}

const randomFrame: Mutation = (random) => {
  const body = random.bytes(random.int(200))
  // A plausible header start in most: past the dispatcher's first checks, into the decoders.
  if (body.length >= 4 && random.chance(0.7)) {
    body.writeInt16BE(random.pick([0, 1, 2, 3, 18, 19, 20, 22, 37]), 0)
    body.writeInt16BE(random.between(0, 11), 2)
  }
  return withSize(body)
}

const garbage: Mutation = (random) => random.bytes(random.between(1, 64))

const splice: Mutation = (random, frame, others) => {
  const other = others.length > 0 ? random.pick(others) : frame
  const body = Buffer.concat([bodyOf(frame).subarray(0, random.int(frame.length)), bodyOf(other).subarray(random.int(other.length))])
  return withSize(body)
}

const MUTATIONS: ReadonlyArray<readonly [number, string, Mutation]> = [
  [20, 'flip-bits', flipBits],
  [12, 'set-interesting', setInteresting],
  [16, 'corrupt-length', corruptLength],
  [10, 'truncate', truncate],
  [8, 'extend', extend],
  [8, 'set-size', setSize],
  [10, 'wrong-header', wrongHeader],
  [6, 'random-frame', randomFrame],
  [3, 'garbage', garbage],
  [7, 'splice', splice],
]

/** 1–3 mutations of `frame`; returns the bytes and their names. */
export function mutate(random: Random, frame: Buffer, others: readonly Buffer[]): { bytes: Buffer; names: string[] } {
  let bytes = frame
  const names: string[] = []
  for (let n = random.weighted<number>([[70, 1], [20, 2], [10, 3]]); n > 0; n--) {
    const [name, mutation] = random.weighted(MUTATIONS.map(([weight, name, fn]) => [weight, [name, fn]] as const))
    bytes = mutation(random, bytes, others)
    names.push(name)
  }
  return { bytes, names }
}

/** How a stream goes onto the socket: one write per frame, one write for all, or cut at random points. */
export function splitWrites(random: Random, frames: readonly Buffer[]): Buffer[] {
  const mode = random.weighted<string>([[40, 'per-frame'], [20, 'all'], [35, 'random'], [5, 'bytes']])
  if (mode === 'per-frame') return [...frames]
  const stream = Buffer.concat(frames)
  if (mode === 'all' || stream.length < 2) return [stream]
  const cuts = new Set<number>()
  if (mode === 'bytes') {
    // Byte by byte at the start: every boundary of the size prefix and header is crossed.
    for (let i = 1; i < Math.min(stream.length, 40); i++) cuts.add(i)
  } else {
    for (let n = random.between(1, 10); n > 0; n--) cuts.add(random.between(1, stream.length - 1))
  }
  const sorted = [...cuts].sort((a, b) => a - b)
  const writes: Buffer[] = []
  let from = 0
  for (const cut of sorted) {
    writes.push(stream.subarray(from, cut))
    from = cut
  }
  writes.push(stream.subarray(from))
  return writes
}
