/** For runtime tests that must not depend on git: an instant engine, lease owners, ingestion tallies, a journal as a holder left it. */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import type { QueueItem } from '../../src/contract/types.generated.js';
import type { Evaluation } from '../../src/engine/evaluate.js';
import type { HeldLease, Owner } from '../../src/runtime/lease.js';
import { acquireLease } from '../../src/runtime/lease-store.js';
import type { Engine, EngineFactory } from '../../src/runtime/session.js';
import { journalFile, writeJournal } from '../../src/store/journal.js';
import type { StatePaths } from '../../src/store/paths.js';
import { at } from './clock.js';

const clean: Evaluation = { outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: null, merge_base: null, merged_tree: null };

export interface RecordingEngine {
  /** Slugs in the order they were evaluated. */
  order: string[];
  /** Engines created (one per tenure) and closed. */
  opened: number;
  closed: number;
  engine: EngineFactory;
  evaluate: Engine['evaluate'];
}

/** An engine that decides every candidate at once, would_integrate, remembering the order it saw them in. */
export function recordingEngine(hook?: (item: QueueItem, signal: AbortSignal) => void | Promise<void>): RecordingEngine {
  const r: RecordingEngine = {
    order: [],
    opened: 0,
    closed: 0,
    evaluate: async (item, signal) => {
      r.order.push(item.slug);
      await hook?.(item, signal);
      return clean;
    },
    engine: () => {
      r.opened += 1;
      return { evaluate: r.evaluate, close: () => Promise.resolve(void (r.closed += 1)) };
    },
  };
  return r;
}

/** An engine for `session.drain`: the recording one's evaluate, nothing to close. */
export const engineOf = (r: RecordingEngine): Engine => ({ evaluate: r.evaluate, close: () => Promise.resolve() });

/** A signal that never aborts: drain until the queue is empty. */
export const never = (): AbortSignal => new AbortController().signal;

/** A journal as a holder left it: these live items, nothing of the log consumed (no checkpoint). */
export function writeQueueJournal(paths: StatePaths, items: readonly QueueItem[], epoch = 1): void {
  const nowhere = { head_len: 0, head_hash: '', offset: 0 };
  const round = {
    epoch,
    at: at(0),
    log: { dev: 0, ino: 0, offset: 0, lines: 0, base: 0 },
    ledger: nowhere,
    rejected: { count: 0, position: nowhere },
    counts: { would_integrate: 0, would_block: 0, superseded: 0 },
    snapshot: null,
    queue: { live: items.length, waiting: 0 },
  };
  writeJournal(paths, journalFile(epoch, 0), { t: 'base', epoch, at: at(0), items: items.length, round }, items).close();
}

export function owner(runId: string, host = hostname(), pid = process.pid): Owner {
  return { host, pid, run_id: runId };
}

/** Acquires the lease for a fresh owner; fails the test when it is not free. */
export async function holdLease(paths: StatePaths, now: Date, runId = 'test', ttlSeconds = 60, host = hostname()): Promise<HeldLease> {
  const r = await acquireLease(paths, owner(runId, host), () => now, ttlSeconds);
  assert.ok(r.acquired, `lease not acquired: ${JSON.stringify(r)}`);
  return r.held;
}

/** The counts of one HolderSession.ingest() (whatever else it reports). */
export const tally = (r: { accepted: number; rejected: number; enqueued: number; superseded: number }) => ({ accepted: r.accepted, rejected: r.rejected, enqueued: r.enqueued, superseded: r.superseded });
