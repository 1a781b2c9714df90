/** For runtime tests that must not depend on git: an instant evaluator, lease owners, ingestion tallies. */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import type { QueueItem } from '../../src/contract/types.generated.js';
import type { Evaluation } from '../../src/engine/evaluate.js';
import type { HeldLease, Owner } from '../../src/runtime/lease.js';
import { acquireLease } from '../../src/runtime/lease-store.js';
import type { StatePaths } from '../../src/store/paths.js';

const clean: Evaluation = { outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: null, merge_base: null, merged_tree: null };

/** Decides every candidate at once, would_integrate, remembering the order it saw them in. */
export function recordingEvaluator(hook?: (item: QueueItem) => void | Promise<void>): { order: string[]; evaluate: (item: QueueItem) => Promise<Evaluation> } {
  const order: string[] = [];
  return {
    order,
    evaluate: async (item) => {
      order.push(item.slug);
      await hook?.(item);
      return clean;
    },
  };
}

export function owner(runId: string, host = hostname(), pid = process.pid): Owner {
  return { host, pid, run_id: runId };
}

/** Acquires the lease for a fresh owner; fails the test when it is not free. */
export async function holdLease(paths: StatePaths, now: Date, runId = 'test', ttlSeconds = 60, host = hostname()): Promise<HeldLease> {
  const r = await acquireLease(paths, owner(runId, host), now, ttlSeconds);
  assert.ok(r.acquired, `lease not acquired: ${JSON.stringify(r)}`);
  return r.held;
}

/** The counts of one HolderSession.ingest() (whatever else it reports). */
export const tally = (r: { accepted: number; rejected: number; enqueued: number; superseded: number }) => ({ accepted: r.accepted, rejected: r.rejected, enqueued: r.enqueued, superseded: r.superseded });
