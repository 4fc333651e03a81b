import { Command, Help } from 'commander'
import { defaultDataDir } from './data-dir.js'
import type { CliStreams, GlobalOptions } from './output.js'

export const CLI_VERSION = '0.1.0'

/** Builds one top-level command (its options, arguments, subcommands and actions). */
export type CommandBuilder = (out: CliStreams, globals: () => GlobalOptions) => Command

export interface CommandEntry {
  name: string
  /** How the root help shows it: the name, then `[options]` and the arguments if it has them. */
  term: string
  description: string
  /** Imports the command's module: only that of the command the command line invokes is loaded. */
  load: () => Promise<CommandBuilder>
}

/**
 * The top-level commands. Each module is imported only when its command runs (or shows its
 * help), so that a command pays at start-up only for what it uses, and `--version`,
 * `--help` and a mistyped command line load no command and no engine. The root help is
 * made from `term` and `description`: test/cli/start-up.test.ts checks that they match
 * what each module builds.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'init',
    term: 'init',
    description: 'create an empty data directory (--data-dir), where topics can then be created',
    load: async () => (await import('./init.js')).initCommand,
  },
  {
    name: 'topics',
    term: 'topics',
    description: 'create, list, describe and delete topics',
    load: async () => (await import('./topics.js')).topicsCommand,
  },
  {
    name: 'produce',
    term: 'produce [options] <topic>',
    description: 'send records to a topic, one per line of stdin (or --file)',
    load: async () => (await import('./produce.js')).produceCommand,
  },
  {
    name: 'consume',
    term: 'consume [options] <topic>',
    description: 'print records of a topic: read-only, or with --group as a member of a consumer group that commits as it goes',
    load: async () => (await import('./consume.js')).consumeCommand,
  },
  {
    name: 'replay',
    term: 'replay [options] <topic>',
    description: 'print a range of a topic in order, from an offset or a time, to an offset or a time',
    load: async () => (await import('./consume.js')).replayCommand,
  },
  {
    name: 'groups',
    term: 'groups',
    description: "list, describe, reset and delete consumer groups' committed offsets",
    load: async () => (await import('./groups.js')).groupsCommand,
  },
  {
    name: 'serve',
    term: 'serve [options]',
    description: 'serve the data directory to Kafka clients (kcat, kafkajs, …) until SIGINT or SIGTERM',
    load: async () => (await import('./serve.js')).serveCommand,
  },
  {
    name: 'segments',
    term: 'segments',
    description: 'inspect segment files (read-only: safe while an application writes), and repair damaged ones',
    load: async () => (await import('./segments.js')).segmentsCommand,
  },
]

/** Global options that take a value: their value is not the command's name. */
const VALUE_OPTIONS = new Set(['--data-dir'])

/**
 * The top-level command a command line runs (or asks help for: `help topics`): its first
 * word that is neither an option nor a global option's value. Undefined for none
 * (`--version`, `--help`, a bare `spool`).
 */
export function invokedCommand(args: readonly string[]): string | undefined {
  const words: string[] = []
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const arg = args[i]!
    if (arg === '--') {
      words.push(...args.slice(i + 1, i + 3))
      break
    }
    if (VALUE_OPTIONS.has(arg)) i++
    else if (!arg.startsWith('-')) words.push(arg)
  }
  return words[0] === 'help' ? words[1] : words[0]
}

/**
 * The `spool` program for this command line: global options, the invoked command built
 * in full, every other one as a stub that only names itself in the root help.
 */
export async function buildProgram(out: CliStreams, args: readonly string[], options: { json?: boolean } = {}): Promise<Command> {
  const program = new Command('spool')
    .description('inspect and operate a spool data directory')
    .version(CLI_VERSION)
    .option('--data-dir <dir>', 'the data directory (default: $SPOOL_DATA_DIR or ./spool-data)')
    .option('--json', 'machine-readable output (errors too: one JSON line on stderr)')
    .option('--debug', 'print stack traces on errors')
  const globals = (): GlobalOptions => {
    // --debug is read by main.ts, which must see it even when the command line fails to parse.
    const given = program.opts<{ dataDir?: string; json?: boolean }>()
    return { dataDir: given.dataDir ?? defaultDataDir(), json: given.json === true }
  }
  const invoked = invokedCommand(args)
  const terms = new Map<string, string>()
  for (const entry of COMMANDS) {
    if (entry.name === invoked) program.addCommand((await entry.load())(out, globals))
    else program.addCommand(new Command(entry.name).description(entry.description))
    terms.set(entry.name, entry.term)
  }
  const help = new Help()
  program.configureHelp({ subcommandTerm: (command) => (command.parent === program ? terms.get(command.name()) : undefined) ?? help.subcommandTerm(command) })
  applyToAll(program, (command) => {
    // addCommand() does not pass these on: without them a subcommand would call process.exit.
    command.exitOverride().configureOutput({
      writeOut: (s) => out.stdout.write(s),
      writeErr: (s) => out.stderr.write(s),
      // With --json, main.ts prints the error as JSON instead.
      outputError: (s, write) => {
        if (options.json !== true) write(s)
      },
    })
  })
  return program
}

function applyToAll(command: Command, apply: (command: Command) => void): void {
  apply(command)
  for (const sub of command.commands) applyToAll(sub, apply)
}
