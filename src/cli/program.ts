import { Command } from 'commander'
import { defaultDataDir } from '../client/spool.js'
import type { CliStreams, GlobalOptions } from './output.js'
import { consumeCommand, replayCommand } from './consume.js'
import { groupsCommand } from './groups.js'
import { produceCommand } from './produce.js'
import { segmentsCommand } from './segments.js'
import { topicsCommand } from './topics.js'

export const CLI_VERSION = '0.1.0'

/** The `spool` program: global options, then one command group per file. */
export function buildProgram(out: CliStreams): Command {
  const program = new Command('spool')
    .description('inspect and operate a spool data directory')
    .version(CLI_VERSION)
    .option('--data-dir <dir>', 'the data directory (default: $SPOOL_DATA_DIR or ./spool-data)')
    .option('--json', 'machine-readable output')
    .option('--debug', 'print stack traces on errors')
  const globals = (): GlobalOptions => {
    // --debug is read by main.ts, which must see it even when the command line fails to parse.
    const options = program.opts<{ dataDir?: string; json?: boolean }>()
    return { dataDir: options.dataDir ?? defaultDataDir(), json: options.json === true }
  }
  program.addCommand(topicsCommand(out, globals))
  program.addCommand(produceCommand(out, globals))
  program.addCommand(consumeCommand(out, globals))
  program.addCommand(replayCommand(out, globals))
  program.addCommand(groupsCommand(out, globals))
  program.addCommand(segmentsCommand(out, globals))
  applyToAll(program, (command) => {
    // addCommand() does not pass these on: without them a subcommand would call process.exit.
    command.exitOverride().configureOutput({ writeOut: (s) => out.stdout.write(s), writeErr: (s) => out.stderr.write(s) })
  })
  return program
}

function applyToAll(command: Command, apply: (command: Command) => void): void {
  apply(command)
  for (const sub of command.commands) applyToAll(sub, apply)
}
