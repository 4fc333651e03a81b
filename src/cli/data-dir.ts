/**
 * The CLI's default data directory: the engine's defaultDataDir() (src/client/spool.ts),
 * repeated here so that building the command line does not load the engine;
 * test/cli/start-up.test.ts checks that the two agree.
 */
export function defaultDataDir(): string {
  return process.env['SPOOL_DATA_DIR'] ?? './spool-data'
}
