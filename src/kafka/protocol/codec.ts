/**
 * The one encoder and decoder of message bodies, driven by a MessageSchema and a version.
 * Per field and version it decides: present or not, nullable or not, in the tagged-field
 * section or in line, and the compact (flexible) or classic encoding. See schema.ts for
 * the model and reader.ts for the byte grammar.
 *
 * Decoding sets every field present in the version (tagged fields the sender left out
 * take their default) and nothing else. Encoding takes a field missing from the body
 * (undefined) as its default, writes tagged fields only when they differ from their
 * default, and ignores properties for fields the version lacks.
 */
import { ProtocolError } from './protocol-error.js'
import { Reader } from './reader.js'
import {
  defaultValue, inRange, isFlexible, isNullable, isTagged, minElementBytes,
  type Field, type MessageSchema, type PrimitiveType,
} from './schema.js'
import { Writer } from './writer.js'

export type Body = Record<string, unknown>

export function decodeMessage(schema: MessageSchema, version: number, reader: Reader): Body {
  checkVersion(schema, version)
  try {
    return readStruct(reader, schema.fields, version, isFlexible(schema, version))
  } catch (error) {
    if (error instanceof ProtocolError) error.message = `${schema.name} v${version}: ${error.message}`
    throw error
  }
}

export function encodeMessage(schema: MessageSchema, version: number, body: Body, writer: Writer): void {
  checkVersion(schema, version)
  try {
    writeStruct(writer, schema.fields, body, version, isFlexible(schema, version))
  } catch (error) {
    if (error instanceof Error) error.message = `${schema.name} v${version}: ${error.message}`
    throw error
  }
}

function checkVersion(schema: MessageSchema, version: number): void {
  if (!inRange(schema.validVersions, version)) {
    throw new ProtocolError(`${schema.name} has no version ${version} (described: ${schema.validVersions.min}-${schema.validVersions.max})`)
  }
}

// Decoding ---------------------------------------------------------------------------------

function readStruct(reader: Reader, fields: readonly Field[], version: number, flexible: boolean): Body {
  const out: Body = {}
  let current: Field | undefined
  try {
    for (const field of fields) {
      if (!inRange(field.versions, version)) continue
      current = field
      out[field.key] = flexible && isTagged(field, version) ? defaultValue(field, version) : readField(reader, field, version, flexible)
    }
    current = undefined
    if (flexible) {
      reader.taggedFields((tag, fieldReader) => {
        const field = fields.find((f) => f.tag === tag && inRange(f.versions, version) && isTagged(f, version))
        if (field === undefined) return false
        current = field
        out[field.key] = readField(fieldReader, field, version, flexible)
        current = undefined
        return true
      })
    }
  } catch (error) {
    if (error instanceof ProtocolError && current !== undefined) error.within(current.name)
    throw error
  }
  return out
}

function readField(reader: Reader, field: Field, version: number, flexible: boolean): unknown {
  const nullable = isNullable(field, version)
  if (field.array) {
    const minBytes = minElementBytesCached(field, version, flexible)
    const count = flexible ? reader.compactArrayLength(minBytes) : reader.arrayLength(minBytes)
    if (count === null) {
      if (!nullable) throw new ProtocolError('array is null where null is not allowed')
      return null
    }
    const items = new Array<unknown>(count)
    for (let i = 0; i < count; i++) {
      try {
        items[i] = field.kind === 'struct' ? readStruct(reader, field.fields, version, flexible) : readPrimitive(reader, field.kind, false, flexible)
      } catch (error) {
        if (error instanceof ProtocolError) error.within(`[${i}]`)
        throw error
      }
    }
    return items
  }
  if (field.kind === 'struct') return readStruct(reader, field.fields, version, flexible)
  return readPrimitive(reader, field.kind, nullable, flexible)
}

function readPrimitive(reader: Reader, kind: PrimitiveType, nullable: boolean, flexible: boolean): unknown {
  switch (kind) {
    case 'bool': return reader.bool()
    case 'int8': return reader.int8()
    case 'int16': return reader.int16()
    case 'uint16': return reader.uint16()
    case 'int32': return reader.int32()
    case 'uint32': return reader.uint32()
    case 'int64': return reader.int64()
    case 'float64': return reader.float64()
    case 'uuid': return reader.uuid()
    case 'string': {
      const value = flexible ? reader.compactNullableString() : reader.nullableString()
      if (value === null && !nullable) throw new ProtocolError('string is null where null is not allowed')
      return value
    }
    case 'bytes':
    case 'records': {
      const value = flexible ? reader.compactNullableBytes() : reader.nullableBytes()
      if (value === null && !nullable) throw new ProtocolError(`${kind} is null where null is not allowed`)
      return value
    }
  }
}

const minBytesCache = new WeakMap<Field, Map<number, number>>()

function minElementBytesCached(field: Field, version: number, flexible: boolean): number {
  let byVersion = minBytesCache.get(field)
  if (byVersion === undefined) minBytesCache.set(field, (byVersion = new Map()))
  const key = version * 2 + (flexible ? 1 : 0)
  let bytes = byVersion.get(key)
  if (bytes === undefined) byVersion.set(key, (bytes = minElementBytes(field, version, flexible)))
  return bytes
}

// Encoding ---------------------------------------------------------------------------------

function writeStruct(writer: Writer, fields: readonly Field[], value: unknown, version: number, flexible: boolean): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`expected an object, got ${describe(value)}`)
  const body = value as Body
  const tagged: Field[] = []
  for (const field of fields) {
    if (!inRange(field.versions, version)) continue
    if (flexible && isTagged(field, version)) {
      if (!isDefault(field, body[field.key], version)) tagged.push(field)
      continue
    }
    writeNamed(writer, field, body[field.key], version, flexible)
  }
  if (flexible) {
    tagged.sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0))
    writer.uvarint(tagged.length)
    for (const field of tagged) {
      const fieldWriter = new Writer()
      writeNamed(fieldWriter, field, body[field.key], version, flexible)
      writer.uvarint(field.tag ?? 0).uvarint(fieldWriter.size).append(fieldWriter)
    }
  }
}

/** Writes one field, naming it in any error. */
function writeNamed(writer: Writer, field: Field, value: unknown, version: number, flexible: boolean): void {
  try {
    writeField(writer, field, value === undefined ? defaultValue(field, version) : value, version, flexible)
  } catch (error) {
    annotate(error, field.name)
    throw error
  }
}

function writeField(writer: Writer, field: Field, value: unknown, version: number, flexible: boolean): void {
  const nullable = isNullable(field, version)
  if (field.array) {
    if (value === null) {
      if (!nullable) throw new TypeError('null where the array is not nullable')
      if (flexible) writer.uvarint(0)
      else writer.int32(-1)
      return
    }
    if (!Array.isArray(value)) throw new TypeError(`expected an array, got ${describe(value)}`)
    if (flexible) writer.uvarint(value.length + 1)
    else writer.int32(value.length)
    value.forEach((item: unknown, i) => {
      try {
        if (field.kind === 'struct') writeStruct(writer, field.fields, item, version, flexible)
        else writePrimitive(writer, field.kind, item, false, flexible)
      } catch (error) {
        annotate(error, `[${i}]`)
        throw error
      }
    })
    return
  }
  if (field.kind === 'struct') writeStruct(writer, field.fields, value, version, flexible)
  else writePrimitive(writer, field.kind, value, nullable, flexible)
}

function writePrimitive(writer: Writer, kind: PrimitiveType, value: unknown, nullable: boolean, flexible: boolean): void {
  if (value === null || value === undefined) {
    if (!nullable || !(kind === 'string' || kind === 'bytes' || kind === 'records')) throw new TypeError(`${describe(value)} where a ${kind} is required`)
  }
  switch (kind) {
    case 'bool':
      if (typeof value !== 'boolean') throw new TypeError(`expected a boolean, got ${describe(value)}`)
      writer.bool(value)
      return
    case 'int8': writer.int8(integer(value, kind)); return
    case 'int16': writer.int16(integer(value, kind)); return
    case 'uint16': writer.uint16(integer(value, kind)); return
    case 'int32': writer.int32(integer(value, kind)); return
    case 'uint32': writer.uint32(integer(value, kind)); return
    case 'int64':
      writer.int64(typeof value === 'bigint' ? value : integer(value, kind))
      return
    case 'float64':
      if (typeof value !== 'number') throw new TypeError(`expected a number, got ${describe(value)}`)
      writer.float64(value)
      return
    case 'uuid':
      writer.uuid(value as Buffer)
      return
    case 'string':
      if (value !== null && typeof value !== 'string') throw new TypeError(`expected a string, got ${describe(value)}`)
      if (flexible) writer.compactNullableString(value)
      else writer.nullableString(value)
      return
    case 'bytes':
      if (value !== null && !Buffer.isBuffer(value)) throw new TypeError(`expected a Buffer, got ${describe(value)}`)
      if (flexible) writer.compactNullableBytes(value)
      else writer.nullableBytes(value)
      return
    case 'records':
      // A Fetch response's stored batches: one Buffer or several, sent as they are.
      if (value !== null && !Buffer.isBuffer(value) && !Array.isArray(value)) throw new TypeError(`expected a Buffer or Buffer[], got ${describe(value)}`)
      if (flexible) writer.compactNullableBytes(value as Buffer | Buffer[] | null)
      else writer.nullableBytes(value as Buffer | Buffer[] | null)
      return
  }
}

function integer(value: unknown, kind: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`expected an ${kind}, got ${describe(value)}`)
  return value
}

/** Whether a tagged field's value is its default, so that it is left out of the message. */
function isDefault(field: Field, value: unknown, version: number): boolean {
  if (value === undefined) return true
  if (field.array) return Array.isArray(value) && value.length === 0 && field.default === undefined
  if (field.kind === 'struct') {
    const body = value as Body
    return field.fields.every((child) => !inRange(child.versions, version) || isDefault(child, body[child.key], version))
  }
  const fallback = defaultValue(field, version)
  if (Buffer.isBuffer(value) && Buffer.isBuffer(fallback)) return value.equals(fallback)
  return value === fallback
}

/** The field path of an encoding error (a handler's body that does not fit the schema). */
const encodingPaths = new WeakMap<Error, { path: string[]; problem: string }>()

function annotate(error: unknown, segment: string): void {
  if (!(error instanceof Error)) return
  let info = encodingPaths.get(error)
  if (info === undefined) encodingPaths.set(error, (info = { path: [], problem: error.message }))
  info.path.unshift(segment)
  error.message = `${info.path.join('.').replace(/\.\[/g, '[')}: ${info.problem}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Buffer.isBuffer(value)) return `a ${value.length}-byte Buffer`
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : typeof value === 'object' ? 'an object' : String(value)
}
