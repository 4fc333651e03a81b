/**
 * Runs `work` on every item with at most `limit` running at once, and resolves with the
 * results in the items' order. libuv runs file-system calls on a pool of 4 threads: a
 * sequence of awaited opens leaves all but one idle. If any call fails, the others are
 * still awaited (none is left running), then the first failure is thrown, with the
 * results that did arrive passed to `undo` first.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  undo: (done: R[]) => Promise<void> = async () => undefined,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  const arrived: R[] = []
  let next = 0
  let failure: { error: unknown } | null = null
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const index = next++
      try {
        const result = await work(items[index]!, index)
        results[index] = result
        arrived.push(result)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure !== null) {
    await undo(arrived)
    throw (failure as { error: unknown }).error
  }
  return results
}
