/**
 * Whether there is anything for a holder to do, checked without the lease and without loading the
 * state: what every git hook's `drain` pays. It reads the checkpoint header alone (re-read only when
 * it changed) and stats the log and the live journal: whole readiness lines beyond the header's
 * cursor (or a log that was rotated, replaced, truncated or rewritten before it), live queue items, or a journal that is
 * not the one the header names (a holder stopped before writing its header: recovery is work).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointFile } from '../contract/types.generated.js';
import { hasWholeLineAfter, unchangedBefore } from '../store/jsonl.js';
import { liveJournal } from '../store/journal.js';
import type { StatePaths } from '../store/paths.js';
import { readCheckpointFile } from '../store/readers.js';

export class PendingWork {
  private cached: { mtimeMs: number; size: number; ino: number; header: CheckpointFile | null } | null = null;

  constructor(private readonly paths: StatePaths) {}

  check(log: { size: number; ino: number }): boolean {
    const header = this.header();
    const journal = liveJournal(this.paths);
    if (!header) return (log.size > 0 && hasWholeLineAfter(this.paths.readiness, 0)) || journal !== null;
    if (!journal || journal.name !== header.journal.file || sizeOf(join(this.paths.dir, journal.name)) !== header.journal.size) return true;
    if (header.round.queue.live > 0) return true;
    const cursor = header.round.log;
    if (log.size === 0) return false;
    if (log.ino !== cursor.ino || log.size < cursor.offset) return true;
    // Rewritten in place (same inode, no shorter): read again, as a replaced log.
    if (!unchangedBefore(this.paths.readiness, cursor)) return true;
    // Only whole lines are work: a last line still being written is not, until its newline arrives.
    return log.size > cursor.offset && hasWholeLineAfter(this.paths.readiness, cursor.offset);
  }

  /** The header, or null when there is none or it cannot be read (then recovery decides). */
  private header(): CheckpointFile | null {
    let st;
    try {
      st = statSync(this.paths.checkpoint);
    } catch {
      return null;
    }
    if (!this.cached || this.cached.mtimeMs !== st.mtimeMs || this.cached.size !== st.size || this.cached.ino !== st.ino) {
      let header: CheckpointFile | null = null;
      try {
        header = readCheckpointFile(this.paths);
      } catch {
        header = null;
      }
      this.cached = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, header };
    }
    return this.cached.header;
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
