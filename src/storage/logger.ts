/** Where the storage layer reports what it repaired. Embedders pass their own. */
export interface Logger {
  warn(message: string): void
}

export const stderrLogger: Logger = {
  warn: (message) => process.stderr.write(`spool: warning: ${message}\n`),
}

export const silentLogger: Logger = { warn: () => undefined }
