import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { listenerFilePath } from '../../src/storage/listener-file.js'
import { onLines, spawnTs } from '../helpers/kill-child.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * The CLI beside an application that holds the data directory and listens (a tsx child:
 * through-listener-app.ts): produce, consume (with and without --follow, from an offset
 * and a time) and topics create|delete go through its Kafka listener, found in
 * listener.json or given with --bootstrap, and print what they print on the directory
 * itself — checked byte for byte by running the same commands again once the application
 * has stopped. The application's in-process reader sees the CLI's records. Without a
 * listener: LOCKED, saying how to get one; a stale listener.json or a dead --bootstrap:
 * one clear line.
 */

const APP = path.join(import.meta.dirname, 'through-listener-app.ts')
const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

interface App {
  child: ChildProcess
  lines: string[]
  bootstrap: string
  /** Resolves once a line the test accepts has come (rejects after a safety wait). */
  until(accept: (line: string) => boolean, what: string): Promise<string>
  stop(): Promise<void>
}

const apps: App[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop()))
})

async function startApp(dir: string, mode: '--listen' | '--no-listen' = '--listen'): Promise<App> {
  const child = spawnTs(APP, [dir, mode])
  const lines: string[] = []
  const waiters: Array<() => void> = []
  onLines(child, (line) => {
    lines.push(line)
    for (const wake of waiters.splice(0)) wake()
  })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const until = async (accept: (line: string) => boolean, what: string): Promise<string> => {
    const deadline = Date.now() + 30_000
    for (;;) {
      const found = lines.find(accept)
      if (found !== undefined) return found
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the application never printed ${what}; it printed:\n${lines.join('\n')}`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 200)
      })
    }
  }
  const app: App = {
    child,
    lines,
    bootstrap: '',
    until,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
  apps.push(app)
  const ready = await until((line) => line.startsWith('listening ') || line === 'holding', 'that it is ready')
  app.bootstrap = ready.startsWith('listening ') ? ready.slice('listening '.length) : ''
  return app
}

/** A port nothing listens on: bound, then released. */
async function deadPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const cli = (dir: string, args: string[], input?: string) => runCli(['--data-dir', dir, ...args], input)

/** The consume and topics commands whose output is compared with and without a listener. */
const READS: string[][] = [
  ['consume', 'events'],
  ['consume', 'events', '--format', 'json'],
  ['--json', 'consume', 'events', '--partition', '1'],
  ['consume', 'events', '--partition', '0', '--offset', '1'],
  ['consume', 'events', '--from-time', '1001', '--format', 'json'],
  ['consume', 'events', '--max', '2'],
  ['consume', 'events', '--partition', '0', '--offset', '999'],
  ['consume', 'events', '--partition', '7'],
  ['consume', 'nope'],
]

describe('the CLI through the listener of the application that holds the directory', () => {
  it(
    'produces, consumes and manages topics through it, with the output it has on the directory',
    async () => {
      const dir = tempDir()
      const app = await startApp(dir)
      expect(fs.existsSync(listenerFilePath(dir))).toBe(true)

      // produce: one line an acknowledgement, the app's in-process reader sees each record.
      const produced = cli(dir, ['produce', 'events', '--key-separator', ':', '--header', 'via=cli'], 'a:one\nb:two\nzz:three\n')
      expect(produced).toMatchObject({ code: 0, stderr: '' })
      const acks = produced.stdout.trim().split('\n')
      expect(acks).toHaveLength(3)
      for (const ack of acks) expect(ack).toMatch(/^partition [01] offset \d+$/)
      for (const value of ['one', 'two', 'three']) await app.until((line) => line.startsWith('seen ') && line.endsWith(` ${value}`), `the CLI's record ${value}`)
      // Keyed as the engine keys: "a" went where the application's own "a" (app-0) is.
      const appA = await app.until((line) => line.endsWith(' app-0'), 'app-0')
      const cliA = (await app.until((line) => line.endsWith(' one'), 'one')).split(' ')
      expect(cliA[1]).toBe(appA.split(' ')[1])
      expect(acks[0]).toBe(`partition ${cliA[1]} offset ${cliA[2]}`)

      const quiet = cli(dir, ['produce', 'events', '--partition', '1', '--quiet'], 'four\nfive\n')
      expect(quiet).toEqual({ code: 0, stdout: '2 records written\n', stderr: '' })
      const json = cli(dir, ['--json', 'produce', 'events', '--partition', '0'], 'six\n')
      expect(json.code).toBe(0)
      expect(JSON.parse(json.stdout)).toEqual([{ topic: 'events', partition: 0, offset: expect.any(Number) }])
      await app.until((line) => line.endsWith(' six'), 'six')

      // consume: every form, recorded to compare with the directory's own answer below.
      const throughListener = READS.map((args) => cli(dir, args))
      expect(throughListener[0]!.code).toBe(0)
      expect(throughListener[0]!.stdout.trim().split('\n').sort()).toEqual(['app-0', 'app-1', 'app-2', 'five', 'four', 'one', 'six', 'three', 'two'])
      expect(throughListener[6]).toMatchObject({ code: 1, stderr: expect.stringMatching(/^spool: offset 999 is outside the log \[0, \d+\]; .*\[OFFSET_OUT_OF_RANGE\]\n$/) })
      expect(throughListener[7]).toMatchObject({ code: 1, stderr: 'spool: topic "events" has partitions 0..1, not 7 [UNKNOWN_PARTITION]\n' })
      expect(throughListener[8]).toMatchObject({ code: 1, stderr: 'spool: topic "nope" does not exist; create it first (spool topics create nope) [UNKNOWN_TOPIC]\n' })

      // topics create and delete: printed as on the directory, seen by the application's spool.
      const created = cli(dir, ['topics', 'create', 'made', '--partitions', '3', '--retention-ms', '60000', '--flush', 'never'])
      expect(created).toEqual({ code: 0, stdout: 'created topic made with 3 partitions\n', stderr: '' })
      const describedJson = cli(dir, ['--json', 'topics', 'describe', 'made'])
      const createdJson = cli(dir, ['--json', 'topics', 'create', 'made2', '--partitions', '2'])
      expect(createdJson.code).toBe(0)
      const made2 = JSON.parse(createdJson.stdout)
      expect(made2).toMatchObject({ name: 'made2', config: { partitions: 2, flush: 'always' }, partitions: [{ partition: 0 }, { partition: 1 }] })
      expect(JSON.parse(describedJson.stdout)).toMatchObject({ name: 'made', config: { partitions: 3, retentionMs: 60_000, flush: 'never' } })
      expect(cli(dir, ['topics', 'create', 'made'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/\[TOPIC_EXISTS\]\n$/) })
      expect(cli(dir, ['topics', 'create', 'bad', '--cleanup', 'sometimes'])).toMatchObject({ code: 2, stderr: "spool: cleanup must be 'delete' or 'compact' [INVALID_ARGUMENT]\n" })
      // topics add-partitions (CreatePartitions): the new partitions are the application's at once.
      expect(cli(dir, ['topics', 'add-partitions', 'made', '5'])).toEqual({ code: 0, stdout: 'topic made now has 5 partitions\n', stderr: '' })
      expect(cli(dir, ['produce', 'made', '--partition', '4'], 'on a new partition\n')).toMatchObject({ code: 0, stdout: 'partition 4 offset 0\n' })
      const grownJson = cli(dir, ['--json', 'topics', 'add-partitions', 'made2', '3'])
      expect(JSON.parse(grownJson.stdout)).toMatchObject({ name: 'made2', config: { partitions: 3 }, partitions: [{ partition: 0 }, { partition: 1 }, { partition: 2 }] })
      expect(cli(dir, ['topics', 'add-partitions', 'made', '2'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^spool: .*partitions are never removed.* \[INVALID_ARGUMENT\]\n$/) })
      expect(cli(dir, ['topics', 'add-partitions', 'nope', '2'])).toEqual({ code: 1, stdout: '', stderr: 'spool: topic "nope" does not exist; create it first (spool topics create nope) [UNKNOWN_TOPIC]\n' })
      expect(cli(dir, ['topics', 'delete', 'made'])).toEqual({ code: 0, stdout: 'deleted topic made\n', stderr: '' })
      expect(cli(dir, ['--json', 'topics', 'delete', 'made2'])).toEqual({ code: 0, stdout: '{\n  "deleted": "made2"\n}\n', stderr: '' })
      expect(cli(dir, ['topics', 'delete', 'made'])).toMatchObject({ code: 1, stderr: 'spool: topic "made" does not exist; create it first (spool topics create made) [UNKNOWN_TOPIC]\n' })
      expect(cli(dir, ['topics', 'list']).stdout).not.toMatch(/^made/m)
      // produce to a topic that is not there fails before reading, as on the directory.
      expect(cli(dir, ['produce', 'nope'], 'x\n')).toEqual({ code: 1, stdout: '', stderr: 'spool: topic "nope" does not exist; create it first (spool topics create nope) [UNKNOWN_TOPIC]\n' })
      // consume --group still needs the owner: groups over the wire come next.
      expect(cli(dir, ['consume', 'events', '--group', 'g'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/\[NEEDS_OWNER\]\n$/) })

      // consume takes the listener named in listener.json, not the directory: a directory of no
      // topics whose listener.json names the application's listener prints the application's records.
      const other = tempDir()
      expect(cli(other, ['init']).code).toBe(0)
      fs.copyFileSync(listenerFilePath(dir), listenerFilePath(other))
      expect(cli(other, ['consume', 'events'])).toEqual(throughListener[0])
      fs.rmSync(listenerFilePath(other))
      expect(cli(other, ['consume', 'events'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/\[UNKNOWN_TOPIC\]\n$/) })

      // The same commands on the directory itself, once the application is gone.
      await app.stop()
      expect(fs.existsSync(listenerFilePath(dir))).toBe(false)
      const onDirectory = READS.map((args) => cli(dir, args))
      expect(throughListener).toEqual(onDirectory)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'follows through it: records produced by the CLI and by the application are printed as they come',
    async () => {
      const dir = tempDir()
      const app = await startApp(dir)
      const follower = spawn(process.execPath, [CLI, '--data-dir', dir, 'consume', 'events', '--partition', '1', '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] })
      const printed: string[] = []
      let stderr = ''
      onLines(follower as ChildProcess & { stdout: NodeJS.ReadableStream }, (line) => printed.push(line))
      follower.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)))
      const until = async (count: number): Promise<void> => {
        const deadline = Date.now() + 30_000
        while (printed.length < count) {
          if (Date.now() > deadline) throw new Error(`the follower printed ${JSON.stringify(printed)}; stderr: ${stderr}`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
      const initial = cli(dir, ['consume', 'events', '--partition', '1']).stdout.trim().split('\n').filter((l) => l !== '')
      await until(initial.length)
      expect(cli(dir, ['produce', 'events', '--partition', '1'], 'live-1\nlive-2\n').code).toBe(0)
      await until(initial.length + 2)
      expect(printed).toEqual([...initial, 'live-1', 'live-2'])
      follower.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(stderr).toBe('')
      await app.until((line) => line.endsWith(' live-2'), 'live-2')
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'goes through --bootstrap without the data directory',
    async () => {
      const dir = tempDir()
      const app = await startApp(dir)
      const elsewhere = path.join(tempDir(), 'not-a-data-dir')
      const produced = cli(elsewhere, ['produce', 'events', '--partition', '0', '--bootstrap', app.bootstrap], 'remote\n')
      expect(produced).toMatchObject({ code: 0, stdout: expect.stringMatching(/^partition 0 offset \d+\n$/), stderr: '' })
      await app.until((line) => line.endsWith(' remote'), 'remote')
      const consumed = cli(elsewhere, ['consume', 'events', '--partition', '0', '--bootstrap', app.bootstrap])
      expect(consumed.code).toBe(0)
      expect(consumed.stdout.trim().split('\n').at(-1)).toBe('remote')
      expect(cli(elsewhere, ['topics', 'create', 'far', '--partitions', '2', '--bootstrap', app.bootstrap])).toEqual({
        code: 0,
        stdout: 'created topic far with 2 partitions\n',
        stderr: '',
      })
      expect(JSON.parse(cli(elsewhere, ['--json', 'topics', 'create', 'far2', '--bootstrap', app.bootstrap]).stdout)).toEqual({ name: 'far2', config: { partitions: 1 } })
      expect(cli(elsewhere, ['topics', 'add-partitions', 'far', '4', '--bootstrap', app.bootstrap])).toEqual({ code: 0, stdout: 'topic far now has 4 partitions\n', stderr: '' })
      expect(cli(dir, ['topics', 'list']).stdout).toMatch(/^far\s+4\s/m)
      expect(cli(elsewhere, ['topics', 'delete', 'far', '--bootstrap', app.bootstrap]).code).toBe(0)
      expect(fs.existsSync(elsewhere)).toBe(false)
      expect(cli(elsewhere, ['consume', 'events', '--group', 'g', '--bootstrap', app.bootstrap])).toMatchObject({ code: 1, stderr: expect.stringMatching(/\[NEEDS_OWNER\]\n$/) })
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'fails with one clear line when --bootstrap names a port nothing listens on',
    async () => {
      const port = await deadPort()
      for (const args of [['produce', 'events'], ['consume', 'events'], ['topics', 'create', 'x'], ['topics', 'delete', 'x'], ['topics', 'add-partitions', 'x', '2']]) {
        const result = cli(tempDir(), [...args, '--bootstrap', `127.0.0.1:${port}`], 'line\n')
        expect(result.code).toBe(1)
        expect(result.stdout).toBe('')
        expect(result.stderr).toBe(
          `spool: cannot reach a Kafka listener at 127.0.0.1:${port} (connection refused: nothing listens there); start one (spool serve, or spool.listen() in the application) or check --bootstrap [LISTENER_UNREACHABLE]\n`,
        )
      }
      expect(cli(tempDir(), ['produce', 'events', '--bootstrap', 'nowhere'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--bootstrap must be host:port/) })
    },
    CLI_TEST_TIMEOUT_MS,
  )
})

describe('the CLI beside an application that does not listen', () => {
  it(
    'fails with LOCKED, saying how to go through a listener; a stale listener.json is named as such',
    async () => {
      const dir = tempDir()
      await startApp(dir, '--no-listen')
      const locked = cli(dir, ['produce', 'events'], 'x\n')
      expect(locked.code).toBe(1)
      expect(locked.stderr).toMatch(/^spool: .* is already open for writing by process \d+ .*spool\.listen\(\) in the application, or run `spool serve` instead of it.*--bootstrap host:port \[LOCKED\]\n$/)
      expect(cli(dir, ['topics', 'create', 'x']).stderr).toMatch(/`spool serve`.*\[LOCKED\]\n$/)
      expect(cli(dir, ['topics', 'add-partitions', 'events', '3']).stderr).toMatch(/`spool serve`.*\[LOCKED\]\n$/)
      // Without a listener, consume reads the directory read-only, as before.
      expect(cli(dir, ['consume', 'events']).stdout.trim().split('\n').sort()).toEqual(['app-0', 'app-1', 'app-2'])

      // A listener.json left by a process that is gone (SIGKILL), naming a port nothing listens on.
      const port = await deadPort()
      const gone = spawn(process.execPath, ['-e', ''])
      const pid = gone.pid!
      await new Promise((resolve) => gone.on('exit', resolve))
      fs.writeFileSync(listenerFilePath(dir), JSON.stringify({ host: '127.0.0.1', port, advertisedHost: '127.0.0.1', pid }))
      const stale = cli(dir, ['topics', 'delete', 'events'])
      expect(stale.code).toBe(1)
      expect(stale.stderr).toMatch(
        new RegExp(`^spool: .* is open for writing by process \\d+, and its listener.json names a Kafka listener at 127\\.0\\.0\\.1:${port} that does not answer \\(process ${pid}, which wrote it, is gone\\); pass --bootstrap host:port .*, or stop process \\d+, which holds the directory, and run the command again \\[LOCKED\\]\\n$`),
      )
      // consume does not need it: it reads the directory.
      expect(cli(dir, ['consume', 'events', '--max', '1']).code).toBe(0)
    },
    CLI_TEST_TIMEOUT_MS,
  )
})
