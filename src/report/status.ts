/** `status`: what the shadow integrator is doing, from the state files alone (no lease, no writes). */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { LeaseFile, Outcome, QueueItem } from '../contract/types.generated.js';
import { readOutcomes } from '../ledger/ledger.js';
import { describeOwner, leaseState, type LeaseState } from '../runtime/lease.js';
import { readLease } from '../runtime/lease-store.js';
import { readCheckpoint, readQueue } from '../runtime/session.js';
import { sizeOf } from '../store/jsonl.js';
import { statePaths } from '../store/paths.js';

export interface StatusReport {
  mode: 'off' | 'shadow';
  state_dir: string;
  lease: { state: LeaseState; key: 'integration/main'; holder: string | null; epoch: number; expires_at: string | null; renewed_at: string | null };
  queue: (Pick<QueueItem, 'slug' | 'branch' | 'sha' | 'status' | 'ready_at' | 'enqueued_at'> & { position: number; age_seconds: number })[];
  counts: { would_integrate: number; would_block: number; superseded: number };
  ingestion: { log_bytes: number; consumed_bytes: number; lag_bytes: number; lag_lines: number; checkpoint_at: string | null };
  rejected: number;
  last_outcome: Outcome | null;
}

export function status(loaded: LoadedConfig, ctx: Context): StatusReport {
  const paths = statePaths(loaded.config.state_dir);
  const now = ctx.now();
  const lease = readLease(paths);
  const cp = readCheckpoint(paths);
  // Decisions after the checkpoint are counted from the ledger's tail; before it, the checkpoint has them.
  const tail = readOutcomes(paths.outcomes, cp?.ledger_offset ?? 0);
  const counts = { ...(cp?.counts ?? { would_integrate: 0, would_block: 0, superseded: 0 }) };
  for (const o of tail.outcomes) counts[o.outcome] += 1;
  const logBytes = sizeOf(paths.readiness);
  const consumed = cp && sameFile(paths.readiness, cp.log.ino) ? cp.log.offset : 0;
  return {
    mode: loaded.config.mode,
    state_dir: paths.dir,
    lease: describeLease(lease, now),
    queue: readQueue(paths)
      .list()
      .map((it, i) => ({ position: i + 1, slug: it.slug, branch: it.branch, sha: it.sha, status: it.status, ready_at: it.ready_at, enqueued_at: it.enqueued_at, age_seconds: Math.max(0, Math.round((now.getTime() - Date.parse(it.enqueued_at)) / 1000)) })),
    counts,
    ingestion: { log_bytes: logBytes, consumed_bytes: consumed, lag_bytes: Math.max(0, logBytes - consumed), lag_lines: countLines(paths.readiness, consumed), checkpoint_at: cp?.updated_at ?? null },
    rejected: countLines(paths.rejected, 0),
    last_outcome: tail.outcomes.at(-1) ?? lastOutcome(paths.outcomes),
  };
}

function describeLease(lease: LeaseFile | null, now: Date): StatusReport['lease'] {
  const state = leaseState(lease, now);
  return {
    state,
    key: 'integration/main',
    holder: lease && state !== 'free' ? describeOwner(lease.owner) : null,
    epoch: lease?.epoch ?? 0,
    expires_at: lease && state !== 'free' ? lease.expires_at : null,
    renewed_at: lease && state !== 'free' ? lease.renewed_at : null,
  };
}

function sameFile(path: string, ino: number): boolean {
  try {
    return statSync(path).ino === ino;
  } catch {
    return false;
  }
}

/** Newlines in the file after `from`: read in chunks, never the whole file at once. */
function countLines(path: string, from: number): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  try {
    const buf = Buffer.alloc(1 << 20);
    let lines = 0;
    for (let pos = from; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) return lines;
      for (let i = buf.indexOf(10); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) lines += 1;
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** The last whole line of the ledger, read from its end. */
function lastOutcome(path: string): Outcome | null {
  const size = sizeOf(path);
  if (size === 0) return null;
  // Starting mid-line is fine: the partial first line is simply not a valid outcome.
  return readOutcomes(path, Math.max(0, size - 64 * 1024)).outcomes.at(-1) ?? null;
}

/** The one-line summary `watch` keeps on a terminal. */
export function summaryLine(s: StatusReport): string {
  const last = s.last_outcome ? `${s.last_outcome.outcome} ${s.last_outcome.slug}${s.last_outcome.reasons.length ? ` (${s.last_outcome.reasons.join(',')})` : ''}` : 'none yet';
  const holder = s.lease.state === 'held' ? `${s.lease.holder} epoch ${s.lease.epoch}` : s.lease.state;
  return `queue ${s.queue.length} · lease ${holder} · integrate ${s.counts.would_integrate} block ${s.counts.would_block} superseded ${s.counts.superseded} · last: ${last}`;
}
