import { type ChildProcess, spawn } from 'node:child_process'

/** Starts a TypeScript child with tsx, its stdout piped, its stderr shared. */
export function spawnTs(script: string, args: string[]): ChildProcess & { stdout: NodeJS.ReadableStream } {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) as ChildProcess & { stdout: NodeJS.ReadableStream }
}

/** Calls `onLine` with each complete line the child prints (a torn last line never comes). */
export function onLines(child: { stdout: NodeJS.ReadableStream }, onLine: (line: string) => void): void {
  let buffered = ''
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const complete = buffered.split('\n')
    buffered = complete.pop()!
    for (const line of complete) onLine(line)
  })
}

/**
 * Runs a TypeScript child with tsx, collects its complete stdout lines, and SIGKILLs it
 * `killAfterMs` after it prints `trigger` (default `open`, alone or followed by a space),
 * or after the first line that `trigger` accepts when it is a function. Resolves with the
 * lines it printed (a torn last line is dropped: it was never acknowledged).
 *
 * A test that needs the child to have done some work before it dies (so that its checks
 * mean something) triggers on that work's line, not on a time: how much a child does in
 * a given time depends on how loaded the machine is.
 */
export function runUntilKilled(script: string, args: string[], killAfterMs: number, trigger: string | ((line: string) => boolean) = 'open'): Promise<string[]> {
  const triggers = typeof trigger === 'function' ? trigger : (line: string) => line === trigger || line.startsWith(`${trigger} `)
  let triggered = false
  return new Promise((resolve, reject) => {
    const child = spawnTs(script, args)
    const lines: string[] = []
    onLines(child, (line) => {
      if (!triggered && triggers(line)) {
        triggered = true
        setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      }
      lines.push(line)
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(lines)
      else reject(new Error(`child exited with ${code ?? signal} before it was killed`))
    })
  })
}
