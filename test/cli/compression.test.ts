import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { COMPRESSION_CODECS } from '../../src/record/compression/index.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

describe('compressed batches through the built CLI', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('produce --compression writes each codec; consume and segments dump read them back; topics create --compression forces one', () => {
    const dir = tempDir()
    const cli = (args: string[], input?: string): ReturnType<typeof runCli> => runCli(['--data-dir', dir, ...args], input)
    expect(cli(['topics', 'create', 'mixed', '--partitions', String(COMPRESSION_CODECS.length)]).code).toBe(0)
    const lines = (codec: string): string => Array.from({ length: 20 }, (_, i) => `${codec} line ${i} with some text to compress`).join('\n') + '\n'
    COMPRESSION_CODECS.forEach((codec, partition) => {
      const produced = cli(['produce', 'mixed', '--partition', String(partition), '--compression', codec, '--quiet'], lines(codec))
      expect(produced.stdout.trim(), produced.stderr).toBe('20 records written')
    })
    const consumed = cli(['consume', 'mixed'])
    expect(consumed.code, consumed.stderr).toBe(0)
    expect(consumed.stdout.split('\n').filter(Boolean).sort()).toEqual(COMPRESSION_CODECS.flatMap((codec) => lines(codec).trim().split('\n')).sort())

    COMPRESSION_CODECS.forEach((codec, partition) => {
      const file = path.join(dir, `mixed-${partition}`, `${'0'.repeat(20)}.log`)
      const dumped = JSON.parse(cli(['--json', 'segments', 'dump', file, '--records']).stdout) as {
        batches: Array<{ compression: string; format: number; ok: boolean; records: Array<{ value: string }> }>
      }
      expect(dumped.batches.map((b) => [b.compression, b.format, b.ok])).toEqual([[codec, 2, true]])
      expect(dumped.batches[0]!.records.map((r) => Buffer.from(r.value, 'base64').toString())).toEqual(lines(codec).trim().split('\n'))
    })

    expect(cli(['produce', 'mixed', '--compression', 'brotli'], 'x\n').stderr).toMatch(/compression must be one of none, gzip, snappy, lz4, zstd/)
    expect(cli(['topics', 'create', 'forced', '--compression', 'zstd']).code).toBe(0)
    expect(cli(['produce', 'forced', '--compression', 'gzip', '--quiet'], lines('forced')).code).toBe(0)
    const forced = JSON.parse(cli(['--json', 'segments', 'dump', path.join(dir, 'forced-0', `${'0'.repeat(20)}.log`)]).stdout) as { batches: Array<{ compression: string }> }
    expect(forced.batches.map((b) => b.compression)).toEqual(['zstd'])
    expect(cli(['topics', 'describe', 'forced']).stdout).toContain('compression=zstd')
  })
})
