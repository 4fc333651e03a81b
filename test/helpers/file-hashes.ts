import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { expect } from 'vitest'

/** Not data: the writer's lock (a file, or the kernel lock's LevelDB directory), rewritten by every writable open. */
const LOCKS = new Set(['.lock', '.writer-lock'])

/** Every file under `dir`, by relative path, with a hash of its bytes (the locks aside). */
export function fileHashes(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name)
    const relative = path.relative(dir, file)
    if (!entry.isFile() || LOCKS.has(relative.split(path.sep)[0]!)) continue
    files[relative] = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
  }
  return files
}

/** `after` still has every file of `before`, byte for byte, but those `changed` allows a command to change. */
export function expectKept(before: Record<string, string>, after: Record<string, string>, changed: (file: string) => boolean): void {
  const kept = Object.fromEntries(Object.entries(before).filter(([file]) => !changed(file)))
  expect(Object.fromEntries(Object.entries(after).filter(([file]) => file in kept))).toEqual(kept)
}
