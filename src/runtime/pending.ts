/**
 * Whether there is anything for a holder to do, checked without the lease: whole readiness lines
 * beyond the checkpoint (or a log that shrank or was replaced), or live queue items. Cheap enough to
 * run on every wake-up: the checkpoint is only re-read when its file changed.
 */
import { statSync } from 'node:fs';
import { hasWholeLineAfter } from '../store/jsonl.js';
import type { StatePaths } from '../store/paths.js';
import { readCheckpoint, readQueue } from './session.js';

export class PendingWork {
  private cached: { mtimeMs: number; size: number; offset: number; ino: number } | null = null;

  constructor(private readonly paths: StatePaths) {}

  check(log: { size: number; ino: number }): boolean {
    if (log.size > 0) {
      const cp = this.checkpointPosition();
      if (cp === null || log.ino !== cp.ino || log.size < cp.offset) return true;
      // Only whole lines are work: a last line still being written is not, until its newline arrives.
      if (log.size > cp.offset && hasWholeLineAfter(this.paths.readiness, cp.offset)) return true;
    }
    return readQueue(this.paths).length > 0;
  }

  private checkpointPosition(): { offset: number; ino: number } | null {
    let st;
    try {
      st = statSync(this.paths.checkpoint);
    } catch {
      return null;
    }
    if (!this.cached || this.cached.mtimeMs !== st.mtimeMs || this.cached.size !== st.size) {
      const cp = readCheckpoint(this.paths);
      this.cached = { mtimeMs: st.mtimeMs, size: st.size, offset: cp?.log.offset ?? 0, ino: cp?.log.ino ?? 0 };
    }
    return this.cached;
  }
}
