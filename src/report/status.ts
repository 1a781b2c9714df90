/**
 * `status`: the mode, the lease, the queue, outcome counts, how far ingestion lags behind the log and
 * the last decision, from the state files alone (no lease, no mutex, no writes). Cheap enough to run
 * every second beside a busy holder: counts come from the checkpoint plus the ledger written after
 * it, the last outcome from the ledger's end.
 */
import { statSync } from 'node:fs';
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { CheckpointFile, LeaseFile, Outcome, QueueItem } from '../contract/types.generated.js';
import { readOutcomes } from '../ledger/ledger.js';
import { QueueState } from '../queue/queue.js';
import { describeOwner, leaseState, type LeaseState } from '../runtime/lease.js';
import { sizeOf } from '../store/jsonl.js';
import { statePaths, type StatePaths } from '../store/paths.js';
import { readCheckpointFile, readLeaseFile, readQueueFile } from '../store/readers.js';
import { countLines, lastOutcome } from './state-files.js';

export interface LeaseStatus {
  state: LeaseState;
  /** Of the last lease written (kept after release, so epoch keeps growing); null before the first holder. */
  epoch: number | null;
  owner: LeaseFile['owner'] | null;
  acquired_at: string | null;
  renewed_at: string | null;
  expires_at: string | null;
  released_at: string | null;
  /** Seconds until expiry while held; negative once expired; null when free. */
  expires_in_s: number | null;
}

export interface QueueEntry extends Pick<QueueItem, 'slug' | 'branch' | 'sha' | 'status' | 'ready_at' | 'enqueued_at'> {
  position: number;
  /** now − enqueued_at. */
  age_s: number;
}

export interface IngestionStatus {
  log: string;
  size: number;
  /** First byte the last checkpoint had not consumed (0 when the checkpoint is not about this file). */
  offset: number;
  lag_bytes: number;
  /** Whole lines behind (a line still being written counts in bytes only). */
  lag_lines: number;
  checkpoint_at: string | null;
  /** The log was replaced or truncated since the checkpoint: the next holder reads it from the start. */
  restarted: 'replaced' | 'truncated' | null;
}

type Counts = CheckpointFile['counts'];

export interface StatusReport {
  generated_at: string;
  mode: 'off' | 'shadow';
  state_dir: string;
  lease: LeaseStatus;
  queue: QueueEntry[];
  /** Candidates whose event conditions are not all met yet, as of the checkpoint. */
  waiting: number;
  counts: Counts & { total: number };
  ingestion: IngestionStatus;
  /** Lines in rejected.jsonl. */
  rejected: number;
  last_outcome: Outcome | null;
}

export function status(loaded: LoadedConfig, ctx: Pick<Context, 'now'>): StatusReport {
  const now = ctx.now();
  const paths = statePaths(loaded.config.state_dir);
  const cp = readCheckpointFile(paths);
  const ledger = ledgerSinceCheckpoint(paths, cp);
  return {
    generated_at: now.toISOString(),
    mode: loaded.config.mode,
    state_dir: paths.dir,
    lease: leaseStatus(readLeaseFile(paths), now),
    queue: QueueState.fromFile(readQueueFile(paths))
      .list()
      .map((it, i) => ({ position: i + 1, slug: it.slug, branch: it.branch, sha: it.sha, status: it.status, ready_at: it.ready_at, enqueued_at: it.enqueued_at, age_s: secondsSince(it.enqueued_at, now) })),
    waiting: cp ? cp.projection.heads.ready_at.filter((r) => r !== null).length : 0,
    counts: ledger.counts,
    ingestion: ingestionStatus(paths, cp),
    rejected: countLines(paths.rejected),
    last_outcome: ledger.last ?? lastOutcome(paths.outcomes),
  };
}

function leaseStatus(lease: LeaseFile | null, now: Date): LeaseStatus {
  const state = leaseState(lease, now);
  return {
    state,
    epoch: lease?.epoch ?? null,
    owner: lease?.owner ?? null,
    acquired_at: lease?.acquired_at ?? null,
    renewed_at: lease?.renewed_at ?? null,
    expires_at: lease?.expires_at ?? null,
    released_at: lease?.released_at ?? null,
    expires_in_s: lease && state !== 'free' ? -secondsSince(lease.expires_at, now) : null,
  };
}

/** Checkpoint counts plus the outcomes appended after it; the whole ledger when the checkpoint no longer fits it. */
function ledgerSinceCheckpoint(paths: StatePaths, cp: CheckpointFile | null): { counts: StatusReport['counts']; last: Outcome | undefined } {
  const usable = cp !== null && cp.ledger_offset <= sizeOf(paths.outcomes);
  const counts: Counts = usable ? { ...cp.counts } : { would_integrate: 0, would_block: 0, superseded: 0 };
  const tail = readOutcomes(paths.outcomes, usable ? cp.ledger_offset : 0).outcomes;
  for (const o of tail) counts[o.outcome] += 1;
  return { counts: { ...counts, total: counts.would_integrate + counts.would_block + counts.superseded }, last: tail.at(-1) };
}

function ingestionStatus(paths: StatePaths, cp: CheckpointFile | null): IngestionStatus {
  const st = statOrNull(paths.readiness);
  const size = st?.size ?? 0;
  let offset = cp?.log.offset ?? 0;
  let restarted: IngestionStatus['restarted'] = null;
  if (cp && st && cp.log.ino !== 0 && (st.ino !== cp.log.ino || st.dev !== cp.log.dev)) restarted = 'replaced';
  else if (size < offset) restarted = 'truncated';
  if (restarted) offset = 0;
  return { log: paths.readiness, size, offset, lag_bytes: size - offset, lag_lines: countLines(paths.readiness, offset), checkpoint_at: cp?.updated_at ?? null, restarted };
}

function statOrNull(path: string): { size: number; ino: number; dev: number } | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const secondsSince = (iso: string, now: Date) => Math.round((now.getTime() - Date.parse(iso)) / 1000);

/**
 * One line for a live display (`watch` on a terminal): queue length, lease holder, last decision, e.g.
 * `queue 2 · held by host:4242 (run 1f…) epoch 7 · last would_block fix-login (merge_conflict) 40s ago`
 */
export function summaryLine(s: StatusReport): string {
  const o = s.last_outcome;
  const last = o ? `last ${o.outcome} ${o.slug}${o.reasons.length > 0 ? ` (${o.reasons.join(',')})` : ''} ${ago(s, o.decided_at)}` : 'no decision yet';
  const lease =
    s.lease.state === 'held' && s.lease.owner ? `held by ${describeOwner(s.lease.owner)} epoch ${s.lease.epoch}`
    : s.lease.state === 'expired' ? `lease expired (epoch ${s.lease.epoch})`
    : 'lease free';
  return `queue ${s.queue.length} · ${lease} · ${last}`;
}

/** How long before the report was made, e.g. "40s ago". */
export const ago = (s: StatusReport, iso: string) => `${shortDuration(Date.parse(s.generated_at) - Date.parse(iso))} ago`;

/** 40s, 3m, 5h, 2d. */
export function shortDuration(ms: number): string {
  const sec = Math.max(0, Math.round(ms / 1000));
  if (sec < 120) return `${sec}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  if (sec < 172_800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86_400)}d`;
}
