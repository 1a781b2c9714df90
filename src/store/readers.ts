/**
 * The read side of the state, for reports (status, explain, outcomes, parity) and for the pending-work
 * check. Nothing here takes the state mutex or writes: JSON files are replaced whole by rename and
 * logs only grow, so a reader always sees a consistent file, and a report can never hold up the holder.
 */
import type { CheckpointFile, LeaseFile, LogPosition, Outcome, QueueItem, RejectedLine } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { readJson } from './atomic-json.js';
import { forEachLineSince } from './jsonl.js';
import { readJournal, type JournalState } from './journal.js';
import type { StatePaths } from './paths.js';
import type { Segment } from './segments.js';

export const readLeaseFile = (paths: StatePaths): LeaseFile | null => readJson(paths.lease, validators.lease);

/** checkpoint.json, the small header: a cache of the live journal's last round. */
export const readCheckpointFile = (paths: StatePaths): CheckpointFile | null => readJson(paths.checkpoint, validators.checkpoint);

/** The live journal replayed: the queue's live items in FIFO order and the last round (the authority the header caches). */
export const readState = (paths: StatePaths): JournalState => readJournal(paths);

/** The live queue items in FIFO order. */
export const readQueue = (paths: StatePaths): QueueItem[] => readJournal(paths).items;

export interface Where {
  segment: Segment;
  offset: number;
}

/**
 * Every outcome of the ledger, across its rotated segments (oldest first, `.gz` ones included), from
 * `from` on (a position a round recorded) or from the start. Lines that are not outcomes (a torn line
 * left by a crash, a hand edit) are counted in the result, never handed out.
 */
export function forEachOutcome(paths: StatePaths, onOutcome: (o: Outcome, where: Where) => void, from: LogPosition | null = null): { invalid: number } {
  let invalid = 0;
  forEachLineSince(paths.outcomes, from, (bytes, segment, offset) => {
    const o = parseLine(bytes);
    if (o !== null && validators.outcome(o)) onOutcome(o, { segment, offset });
    else invalid += 1;
  });
  return { invalid };
}

/** Every quarantined line, across rotations, from `from` on. */
export function forEachRejected(paths: StatePaths, onRejected: (r: RejectedLine, where: Where) => void, from: LogPosition | null = null): { invalid: number } {
  let invalid = 0;
  forEachLineSince(paths.rejected, from, (bytes, segment, offset) => {
    const r = parseLine(bytes);
    if (r !== null && validators.rejected(r)) onRejected(r, { segment, offset });
    else invalid += 1;
  });
  return { invalid };
}

function parseLine(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}
