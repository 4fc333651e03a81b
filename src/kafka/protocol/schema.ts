/**
 * The message model: each API's request and response written down as Kafka's own
 * message descriptions (apache/kafka clients/src/main/resources/common/message/*.json),
 * field by field with the versions each exists in. One generic codec (codec.ts) reads and
 * writes every version from these descriptions; nothing is hand-written per version.
 *
 * A field spec is Kafka's JSON nearly verbatim:
 *   { name: 'LogStartOffset', type: 'int64', versions: '5+', default: -1, about: '…' }
 * with `type` one of the primitives below, `[]<primitive>`, `[]<StructName>` or
 * `<StructName>` (the last two with `fields`). Version ranges are Kafka's: 'N+', 'N-M',
 * 'N' or 'none'. Bodies use the names with the first letter lowercased
 * (`PartitionIndex` → `partitionIndex`).
 */

export const PRIMITIVE_TYPES = [
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64',
  'string', 'bytes', 'records', 'uuid',
] as const
export type PrimitiveType = (typeof PRIMITIVE_TYPES)[number]

export interface FieldSpec {
  readonly name: string
  readonly type: string
  readonly versions: string
  readonly nullableVersions?: string
  readonly taggedVersions?: string
  readonly tag?: number
  /** The value a field absent from a body takes (Kafka's `default`); see defaultValue(). */
  readonly default?: number | string | boolean | null
  /** Kafka's `ignorable`: documentation only here (spool drops fields an old version lacks). */
  readonly ignorable?: boolean
  readonly about?: string
  readonly fields?: readonly FieldSpec[]
}

export interface MessageSpec {
  readonly name: string
  /** The versions this description covers (Kafka's validVersions, possibly fewer). */
  readonly validVersions: string
  readonly flexibleVersions: string
  readonly fields: readonly FieldSpec[]
}

export interface VersionRange {
  readonly min: number
  readonly max: number
}

export interface Field {
  /** Kafka's name (`PartitionIndex`). */
  readonly name: string
  /** The body's property (`partitionIndex`). */
  readonly key: string
  /** The element type for arrays; 'struct' when the field has nested fields. */
  readonly kind: PrimitiveType | 'struct'
  readonly array: boolean
  readonly versions: VersionRange
  readonly nullableVersions: VersionRange | null
  readonly taggedVersions: VersionRange | null
  readonly tag: number | null
  readonly default: number | string | boolean | null | undefined
  readonly fields: readonly Field[]
}

export interface MessageSchema {
  readonly name: string
  readonly validVersions: VersionRange
  readonly flexibleVersions: VersionRange
  readonly fields: readonly Field[]
}

const NONE: VersionRange = { min: Infinity, max: -Infinity }

/** Parses Kafka's version range syntax: '3+', '0-12', '5', 'none'. */
export function parseVersions(text: string): VersionRange {
  if (text === 'none') return NONE
  const open = /^(\d+)\+$/.exec(text)
  if (open) return { min: Number(open[1]), max: Infinity }
  const closed = /^(\d+)(?:-(\d+))?$/.exec(text)
  if (closed) {
    const min = Number(closed[1])
    const max = closed[2] === undefined ? min : Number(closed[2])
    if (max >= min) return { min, max }
  }
  throw new Error(`bad version range '${text}'`)
}

export function inRange(range: VersionRange, version: number): boolean {
  return version >= range.min && version <= range.max
}

export function isFlexible(schema: MessageSchema, version: number): boolean {
  return inRange(schema.flexibleVersions, version)
}

/** Whether `field` travels in the tagged-field section at `version` of a flexible message. */
export function isTagged(field: Field, version: number): boolean {
  return field.taggedVersions !== null && inRange(field.taggedVersions, version)
}

export function isNullable(field: Field, version: number): boolean {
  return field.nullableVersions !== null && inRange(field.nullableVersions, version)
}

/** `TopicData` → `topicData`. */
export function bodyKey(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1)
}

/** Compiles a message description, checking it as Kafka's generator would. */
export function message(spec: MessageSpec): MessageSchema {
  return {
    name: spec.name,
    validVersions: parseVersions(spec.validVersions),
    flexibleVersions: parseVersions(spec.flexibleVersions),
    fields: compileFields(spec.fields, spec.name),
  }
}

function compileFields(specs: readonly FieldSpec[], owner: string): Field[] {
  const fields = specs.map((spec) => compileField(spec, owner))
  const keys = new Set<string>()
  const tags = new Set<number>()
  for (const field of fields) {
    if (keys.has(field.key)) throw new Error(`${owner}: field ${field.name} appears twice`)
    keys.add(field.key)
    if (field.tag !== null) {
      if (tags.has(field.tag)) throw new Error(`${owner}: tag ${field.tag} used twice`)
      tags.add(field.tag)
    }
  }
  return fields
}

function compileField(spec: FieldSpec, owner: string): Field {
  const where = `${owner}.${spec.name}`
  const array = spec.type.startsWith('[]')
  const element = array ? spec.type.slice(2) : spec.type
  const primitive = (PRIMITIVE_TYPES as readonly string[]).includes(element)
  if (primitive === (spec.fields !== undefined)) {
    throw new Error(`${where}: type ${spec.type} ${primitive ? 'is primitive but has fields' : 'is a struct without fields'}`)
  }
  if (array && element === 'records') throw new Error(`${where}: an array of records is not a Kafka type`)
  if ((spec.tag === undefined) !== (spec.taggedVersions === undefined)) throw new Error(`${where}: tag and taggedVersions go together`)
  const field: Field = {
    name: spec.name,
    key: bodyKey(spec.name),
    kind: primitive ? (element as PrimitiveType) : 'struct',
    array,
    versions: parseVersions(spec.versions),
    nullableVersions: spec.nullableVersions === undefined ? null : parseVersions(spec.nullableVersions),
    taggedVersions: spec.taggedVersions === undefined ? null : parseVersions(spec.taggedVersions),
    tag: spec.tag ?? null,
    default: spec.default,
    fields: spec.fields === undefined ? [] : compileFields(spec.fields, where),
  }
  if (!array && field.kind === 'struct' && field.nullableVersions !== null) {
    throw new Error(`${where}: nullable structs are not supported`)
  }
  return field
}

const ZERO_UUID = Buffer.alloc(16)

/**
 * The value of a field a body leaves out: the spec's `default`, else Kafka's implicit
 * one — 0, false, '' (null when nullable), an empty buffer (null when nullable), the zero
 * uuid, [] for arrays, and a struct of defaults.
 */
export function defaultValue(field: Field, version: number): unknown {
  if (field.default !== undefined) return field.default
  if (field.array) return []
  switch (field.kind) {
    case 'bool':
      return false
    case 'string':
      return isNullable(field, version) ? null : ''
    case 'bytes':
    case 'records':
      return isNullable(field, version) ? null : Buffer.alloc(0)
    case 'uuid':
      return ZERO_UUID
    case 'struct':
      return defaultStruct(field.fields, version)
    default:
      return 0
  }
}

function defaultStruct(fields: readonly Field[], version: number): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const field of fields) if (inRange(field.versions, version)) out[field.key] = defaultValue(field, version)
  return out
}

const FIXED_BYTES: Partial<Record<PrimitiveType, number>> = {
  bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16,
}

/**
 * The fewest bytes one value of `field`'s element can take at `version`: bounds an
 * array's count by the bytes left before the array is allocated.
 */
export function minElementBytes(field: Field, version: number, flexible: boolean): number {
  if (field.kind !== 'struct') {
    // Variable-length values take at least their length: one varint byte, or 2/4 bytes.
    return FIXED_BYTES[field.kind] ?? (flexible ? 1 : field.kind === 'string' ? 2 : 4)
  }
  let total = flexible ? 1 : 0 // the struct's tagged-field count
  for (const child of field.fields) {
    if (!inRange(child.versions, version) || (flexible && isTagged(child, version))) continue
    total += child.array ? (flexible ? 1 : 4) : minElementBytes(child, version, flexible)
  }
  return total
}
