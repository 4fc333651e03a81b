import { spawn } from 'node:child_process'

/**
 * Runs a TypeScript child with tsx, collects its complete stdout lines, and SIGKILLs it
 * `killAfterMs` after it prints `trigger` (default `open`, alone or followed by a space).
 * Resolves with the lines it printed (a torn last line is dropped: it was never
 * acknowledged).
 */
export function runUntilKilled(script: string, args: string[], killAfterMs: number, trigger = 'open'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    let buffered = ''
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const complete = buffered.split('\n')
      buffered = complete.pop()!
      for (const line of complete) {
        if (line === trigger || line.startsWith(`${trigger} `)) setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        lines.push(line)
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(lines)
      else reject(new Error(`child exited with ${code ?? signal} before it was killed`))
    })
  })
}
