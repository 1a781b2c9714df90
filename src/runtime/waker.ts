/**
 * Wakes the runtime when readiness.jsonl may have grown. chokidar is the fast wake-up; a periodic
 * stat is the truth, so an event is never missed when the filesystem sends no notification
 * (network filesystems, editors that replace files, overflowing inotify queues). Waits run on the
 * context's clock and timers.
 */
import type { FSWatcher } from 'chokidar';
import { statSync } from 'node:fs';
import type { Context } from '../context.js';

export class LogWaker {
  private watcher: Promise<FSWatcher | null> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly file: string,
    private readonly pollMs: number,
    private readonly ctx: Pick<Context, 'now' | 'timers'>,
    useFsEvents = true,
  ) {
    if (useFsEvents) {
      // Loaded here, not at the top: only `watch` wants it, and a `drain` started by a hook should
      // not pay for loading it.
      this.watcher = import('chokidar').then(
        ({ watch }) => {
          const watcher = watch(file, { persistent: true, ignoreInitial: true, awaitWriteFinish: false });
          const poke = () => this.wake?.();
          watcher.on('add', poke).on('change', poke).on('unlink', poke);
          watcher.on('error', () => {
            // Losing the watcher only costs latency: polling still sees every change.
          });
          return watcher;
        },
        () => null, // no fast wake-up: polling still sees every change
      );
    }
  }

  /** Size and inode of the log now (0 when absent). */
  stat(): { size: number; ino: number } {
    try {
      const st = statSync(this.file);
      return { size: st.size, ino: st.ino };
    } catch {
      return { size: 0, ino: 0 };
    }
  }

  /**
   * Resolves when the log's size or identity differs from `known`, after `ms`, or on abort;
   * true when it changed.
   */
  async waitForChange(known: { size: number; ino: number }, ms: number, signal?: AbortSignal): Promise<boolean> {
    const { timers } = this.ctx;
    const deadline = this.ctx.now().getTime() + ms;
    while (!signal?.aborted) {
      const now = this.stat();
      if (now.size !== known.size || now.ino !== known.ino) return true;
      const left = deadline - this.ctx.now().getTime();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          timers.clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.wake = null;
          resolve();
        };
        const timer = timers.setTimeout(done, Math.min(left, this.pollMs));
        this.wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    return false;
  }

  async close(): Promise<void> {
    await (await this.watcher)?.close();
  }
}
