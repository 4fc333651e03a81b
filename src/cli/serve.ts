import { Command } from 'commander'
import { hostPort } from '../kafka/client/address.js'
import { integerOption, withSpool } from './open.js'
import { type CliStreams, type GlobalOptions, writeLine } from './output.js'

interface ServeFlags {
  host: string
  port: string
  advertisedHost?: string
  autoCreateTopics?: boolean
  create?: boolean
}

/** What a second SIGINT or SIGTERM exits with, at once (the shell's 128 + signal number). */
const SIGNAL_EXIT: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 }

/**
 * `spool serve`: opens the data directory as its writer and serves it over the Kafka wire
 * protocol until SIGINT or SIGTERM; then it stops taking requests, finishes those in
 * flight, closes the directory and exits 0. A second signal exits at once (what was
 * acknowledged is durable under each topic's flush policy either way).
 */
export function serveCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('serve')
    .description('serve the data directory to Kafka clients (kcat, kafkajs, …) until SIGINT or SIGTERM')
    .option('--host <host>', 'the address to listen on; any other than loopback lets other machines connect, and there is no authentication yet', '127.0.0.1')
    .option('--port <port>', 'the port to listen on (0: any free port)', '9092')
    .option('--advertised-host <host>', 'the host name clients are told to connect to (default: the --host address; needed with 0.0.0.0)')
    .option('--auto-create-topics', 'create a topic when a client produces to or asks for one that does not exist (off by default)')
    .option('--create', 'create the data directory if it does not exist (as spool init does)')
    .action(async (flags: ServeFlags) => {
      const port = integerOption('port', flags.port, 0)!
      const stop = stopOnSignals()
      try {
        await withSpool(
          globals(),
          'write',
          async (spool) => {
            const bound = await spool.listen({ host: flags.host, port, advertisedHost: flags.advertisedHost, autoCreateTopics: flags.autoCreateTopics === true })
            writeLine(out.stdout, globals().json ? JSON.stringify({ listening: bound }) : `listening on ${hostPort(bound)}`)
            await stop.requested
            // withSpool closes the spool, and the spool its listener first: requests in flight finish.
          },
          { create: flags.create === true },
        )
      } finally {
        stop.dispose()
      }
    })
}

/** Resolves at the first SIGINT or SIGTERM; a second one exits at once. */
function stopOnSignals(): { requested: Promise<void>; dispose: () => void } {
  let stopped = false
  let resolve!: () => void
  const requested = new Promise<void>((done) => (resolve = done))
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopped) process.exit(SIGNAL_EXIT[signal as 'SIGINT' | 'SIGTERM'])
    stopped = true
    resolve()
  }
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
  return { requested, dispose: () => process.off('SIGINT', onSignal).off('SIGTERM', onSignal) }
}
