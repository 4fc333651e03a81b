import type { Logger } from './logger.js'

/**
 * Who is told when records become visible: subscribers (a consumer's fetcher) and
 * one-shot waiters (a reader following the end). A listener that throws is logged and
 * skipped: it must never stop the writer that calls this, nor the listeners after it.
 */
export class AppendSignal {
  private readonly listeners = new Set<(endOffset: number) => void>()
  private readonly closeListeners = new Set<() => void>()

  /** `onClose`: called if the log closes while subscribed (a topic deleted under a long poll). */
  subscribe(listener: (endOffset: number) => void, onClose?: () => void): () => void {
    this.listeners.add(listener)
    if (onClose !== undefined) this.closeListeners.add(onClose)
    return () => {
      this.listeners.delete(listener)
      if (onClose !== undefined) this.closeListeners.delete(onClose)
    }
  }

  /** Resolves true once the end passes `offset`, false when closed or aborted first. */
  waitPast(offset: number, abort?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (appended: boolean): void => {
        this.listeners.delete(listener)
        this.closeListeners.delete(onClose)
        abort?.removeEventListener('abort', onClose)
        resolve(appended)
      }
      const listener = (endOffset: number): void => {
        if (endOffset > offset) finish(true)
      }
      const onClose = (): void => finish(false)
      this.listeners.add(listener)
      this.closeListeners.add(onClose)
      abort?.addEventListener('abort', onClose, { once: true })
    })
  }

  appended(endOffset: number, logger: Logger): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(endOffset)
      } catch (error) {
        logger.warn(`an append listener threw: ${(error as Error).message}`)
      }
    }
  }

  closed(): void {
    for (const listener of [...this.closeListeners]) listener()
  }
}
