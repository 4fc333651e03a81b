import fs from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { withSpool } from './open.js'
import { type CliStreams, type GlobalOptions, writeResult } from './output.js'

/**
 * `spool init`: creates an empty data directory (and its parents). The one command, with
 * `topics create --create`, that makes a data directory: every other one refuses a
 * directory that is not there (DATA_DIR_NOT_FOUND), so that a mistyped --data-dir is an
 * error, not a new empty spool. On an existing spool data directory it changes nothing
 * and says so; on someone else's folder it refuses, as every command does.
 */
export function initCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('init')
    .description('create an empty data directory (--data-dir), where topics can then be created')
    .action(async () => {
      const dir = path.resolve(globals().dataDir)
      const existed = fs.existsSync(dir)
      const empty = !existed || (fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length === 0)
      // The open refuses a folder that is not a spool's, before it writes anything.
      const topics = await withSpool(globals(), 'write', async (spool) => spool.listTopics().length, { create: true })
      writeResult(out, globals(), { dataDir: dir, created: !existed, topics }, () => {
        if (!existed) return `created the data directory ${dir}`
        return empty ? `${dir} is now a spool data directory (it was empty)` : `${dir} is a spool data directory already (${topics} topics); nothing changed`
      })
    })
}
