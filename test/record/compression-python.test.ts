import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { type CodecImplementation, type CompressionCodec, loadCodecs } from '../../src/record/compression/index.js'
import { CHILD_SAFETY_TIMEOUT_MS } from '../helpers/safety-timeout.js'

/**
 * Interoperability with compressors and decompressors we did not write: Debian's python3
 * with python-snappy, python-lz4, python-zstandard and kafka-python 2.0.2 (the python3 on
 * PATH is a pyenv shim without them). Python compresses, we decompress; we compress,
 * python decompresses. Missing python or modules skip the cases that need them.
 */

const PYTHON = process.env['SPOOL_FOREIGN_PYTHON'] ?? '/usr/bin/python3'
const MODULES = ['snappy', 'lz4.frame', 'zstandard', 'kafka.codec'] as const
type Module = (typeof MODULES)[number]

/** Reads one JSON request on stdin, writes one JSON answer on stdout; bytes travel as base64. */
const SCRIPT = String.raw`
import base64, hashlib, importlib, json, sys

def have(name):
    try:
        importlib.import_module(name)
        return True
    except Exception:
        return False

request = json.load(sys.stdin)
if request['op'] == 'probe':
    json.dump({name: have(name) for name in request['modules']}, sys.stdout)
    sys.exit(0)

def lazy(module):
    return lambda: importlib.import_module(module)

kc, snappy, lf, zs = lazy('kafka.codec'), lazy('snappy'), lazy('lz4.frame'), lazy('zstandard')

def compressobj(data):
    c = zs().ZstdCompressor().compressobj()
    half = len(data) // 2
    return c.compress(data[:half]) + c.flush(zs().COMPRESSOBJ_FLUSH_BLOCK) + c.compress(data[half:]) + c.flush()

# Each imports its modules when called, so a missing module leaves out only its entries.
ENCODERS = {
    'gzip kafka.codec.gzip_encode': lambda p: kc().gzip_encode(p),
    'snappy kafka.codec.snappy_encode xerial': lambda p: (snappy(), kc().snappy_encode(p, xerial_compatible=True, xerial_blocksize=32 * 1024))[1],
    'snappy python-snappy raw': lambda p: snappy().compress(p),
    'lz4 kafka.codec.lz4_encode': lambda p: (lf(), kc().lz4_encode(p))[1],
    'lz4 lz4.frame default (linked blocks, content size)': lambda p: lf().compress(p),
    'lz4 lz4.frame no size, block and content checksums': lambda p: lf().compress(p, store_size=False, content_checksum=True, block_checksum=True),
    'lz4 lz4.frame 4 MiB linked blocks, no size': lambda p: lf().compress(p, block_size=lf().BLOCKSIZE_MAX4MB, store_size=False),
    'lz4 lz4.frame 256 KiB independent blocks, content checksum': lambda p: lf().compress(p, block_size=lf().BLOCKSIZE_MAX256KB, block_linked=False, content_checksum=True),
    'zstd compressobj (streaming, no content size)': compressobj,
    'zstd write_content_size=False': lambda p: zs().ZstdCompressor(write_content_size=False).compress(p),
    'zstd level 19 with checksum': lambda p: zs().ZstdCompressor(level=19, write_checksum=True).compress(p),
    'zstd kafka.codec.zstd_encode': lambda p: (zs(), kc().zstd_encode(p))[1],
}

DECODERS = {
    'gzip kafka.codec.gzip_decode': lambda d: kc().gzip_decode(d),
    'snappy kafka.codec.snappy_decode': lambda d: (snappy(), kc().snappy_decode(d))[1],
    'lz4 lz4.frame.decompress': lambda d: lf().decompress(d),
    'lz4 kafka.codec.lz4_decode': lambda d: (lf(), kc().lz4_decode(d))[1],
    'zstd decompressobj': lambda d: zs().ZstdDecompressor().decompressobj().decompress(d),
    'zstd kafka.codec.zstd_decode': lambda d: (zs(), kc().zstd_decode(d))[1],
}

out = {}
if request['op'] == 'encode':
    payload = base64.b64decode(request['payload'])
    for name, encode in ENCODERS.items():
        try:
            out[name] = base64.b64encode(encode(payload)).decode()
        except ImportError:
            pass
else:
    for name, decode in DECODERS.items():
        for label, data in request['inputs'].items():
            if label.split(' ')[0] != name.split(' ')[0]:
                continue
            try:
                plain = decode(base64.b64decode(data))
                out[name + ' <- ' + label] = {'sha256': hashlib.sha256(plain).hexdigest(), 'length': len(plain)}
            except ImportError:
                pass
            except Exception as error:
                out[name + ' <- ' + label] = {'error': repr(error)}
json.dump(out, sys.stdout)
`

function runPython(request: unknown): unknown {
  const result = spawnSync(PYTHON, ['-c', SCRIPT], { input: JSON.stringify(request), maxBuffer: 256 * 1024 * 1024, timeout: CHILD_SAFETY_TIMEOUT_MS })
  if (result.status !== 0) throw new Error(`python failed (${String(result.status ?? result.error)}): ${result.stderr?.toString() ?? ''}`)
  return JSON.parse(result.stdout.toString())
}

function probe(): { reason: string | null; modules: Record<string, boolean> } {
  if (!existsSync(PYTHON)) return { reason: `${PYTHON} is not installed`, modules: {} }
  try {
    return { reason: null, modules: runPython({ op: 'probe', modules: MODULES }) as Record<string, boolean> }
  } catch (error) {
    return { reason: `${PYTHON} did not run: ${(error as Error).message}`, modules: {} }
  }
}

const python = probe()
/** Why a case cannot run here, or null when it can. */
function skipReason(...needs: Module[]): string | null {
  if (python.reason !== null) return python.reason
  const missing = needs.filter((m) => python.modules[m] !== true)
  return missing.length === 0 ? null : `${PYTHON} lacks ${missing.join(', ')}`
}
const title = (name: string, reason: string | null): string => (reason === null ? name : `${name} (skipped: ${reason})`)

function jsonLike(length: number): Buffer {
  let text = ''
  for (let i = 0; text.length < length; i++) {
    text += `${JSON.stringify({ id: i, user: `user-${i % 97}`, event: ['click', 'view', 'buy'][i % 3], ts: 1_700_000_000_000 + i * 37, pad: 'x'.repeat(i % 13) })}\n`
  }
  return Buffer.from(text.slice(0, length))
}

function pseudoRandom(length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let x = 0x9e3779b9
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Past 1 MiB, past every block size python uses but 4 MiB; and incompressible bytes. */
const PAYLOADS = { json: jsonLike(1_200_000), random: pseudoRandom(100_000) } as const
type PayloadName = keyof typeof PAYLOADS

const nativeFirst = loadCodecs()
const fallbackFirst = loadCodecs({ preferNative: false })
const implementationsOf = (codec: CompressionCodec): CodecImplementation[] => [...new Set([nativeFirst[codec], fallbackFirst[codec]])]
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const
type Codec = (typeof CODECS)[number]
/** What python needs for each codec's cases. */
const NEEDS: Record<Codec, Module[]> = {
  gzip: ['kafka.codec'],
  snappy: ['snappy', 'kafka.codec'],
  lz4: ['lz4.frame', 'kafka.codec'],
  zstd: ['zstandard', 'kafka.codec'],
}
const REASON: Record<Codec, string | null> = { gzip: skipReason(...NEEDS.gzip), snappy: skipReason(...NEEDS.snappy), lz4: skipReason(...NEEDS.lz4), zstd: skipReason(...NEEDS.zstd) }
const anyRuns = CODECS.some((c) => REASON[c] === null)
/** How many encoders and decoders SCRIPT has per codec. */
const PYTHON_ENCODERS: Record<Codec, number> = { gzip: 1, snappy: 2, lz4: 5, zstd: 4 }
const PYTHON_DECODERS: Record<Codec, number> = { gzip: 1, snappy: 1, lz4: 2, zstd: 2 }

describe.each(Object.keys(PAYLOADS) as PayloadName[])('python-compressed %s payload, decompressed by us', (payloadName) => {
  const payload = PAYLOADS[payloadName]
  let encoded: Record<string, string> = {}
  const variants = (codec: Codec): [string, string][] => Object.entries(encoded).filter(([name]) => name.startsWith(`${codec} `))

  beforeAll(() => {
    if (anyRuns) encoded = runPython({ op: 'encode', payload: payload.toString('base64') }) as Record<string, string>
  })

  for (const codec of CODECS) {
    const reason = REASON[codec]
    it.skipIf(reason !== null)(title(`${codec}: python produced every variant`, reason), () => {
      expect(variants(codec)).toHaveLength(PYTHON_ENCODERS[codec])
    })
    for (const impl of implementationsOf(codec)) {
      it.skipIf(reason !== null)(title(`${codec}: every python variant decodes with ${impl.name}`, reason), () => {
        for (const [name, b64] of variants(codec)) {
          const out = impl.decompress(Buffer.from(b64, 'base64'), payload.length)
          expect(out.equals(payload), name).toBe(true)
        }
      })
    }
  }

  it.skipIf(REASON.snappy !== null)(title('snappy: kafka-python writes xerial, python-snappy raw', REASON.snappy), () => {
    expect(Buffer.from(encoded['snappy kafka.codec.snappy_encode xerial'] ?? '', 'base64').subarray(0, 8).toString('latin1')).toBe('\x82SNAPPY\x00')
    expect(Buffer.from(encoded['snappy python-snappy raw'] ?? '', 'base64')[0]).not.toBe(0x82)
  })

  it.skipIf(REASON.zstd !== null)(title('zstd: the streaming frames declare no content size (FHD size flag 0, not single-segment)', REASON.zstd), () => {
    for (const name of ['zstd compressobj (streaming, no content size)', 'zstd write_content_size=False']) {
      const frame = Buffer.from(encoded[name] ?? '', 'base64')
      expect(frame.length, name).toBeGreaterThan(5)
      expect(frame[4]! & 0xe0, name).toBe(0)
    }
  })
})

describe.each(Object.keys(PAYLOADS) as PayloadName[])('%s payload compressed by us, decompressed by python', (payloadName) => {
  const payload = PAYLOADS[payloadName]
  const inputs: Record<string, string> = {}
  for (const codec of CODECS) {
    for (const impl of implementationsOf(codec)) inputs[`${codec} from ${impl.name}`] = impl.compress(payload).toString('base64')
  }
  let decoded: Record<string, { sha256?: string; length?: number; error?: string }> = {}

  beforeAll(() => {
    if (anyRuns) decoded = runPython({ op: 'decode', inputs }) as typeof decoded
  })

  for (const codec of CODECS) {
    const reason = REASON[codec]
    it.skipIf(reason !== null)(title(`${codec}: every python decoder reads the output of every implementation of ours`, reason), () => {
      const results = Object.entries(decoded).filter(([name]) => name.startsWith(`${codec} `))
      expect(results).toHaveLength(PYTHON_DECODERS[codec] * implementationsOf(codec).length)
      for (const [name, result] of results) {
        expect(result.error, name).toBeUndefined()
        expect(result.length, name).toBe(payload.length)
        expect(result.sha256, name).toBe(sha256(payload))
      }
    })
  }
})
