/**
 * `status`: the mode, the lease, the queue, the stack, outcome counts, how far ingestion lags behind the log,
 * the last decision and what the user should fix first, from the state files and the repository's
 * refs alone (no lease, no mutex, no writes, no git process). Cheap enough to run every second beside
 * a busy holder: counts come from the checkpoint plus the ledger written after it, the last outcomes
 * from the ledger's end, the waiting candidates from the holder's projection snapshot plus the log
 * after it (bounded by the holder's snapshot policy, never the whole history).
 */
import { statSync } from 'node:fs';
import type { LoadedConfig } from '../config/config.js';
import { mainRefWarning } from '../config/repo.js';
import type { Context } from '../context.js';
import type { CheckpointFile, Counts, IngestionStatus, LeaseFile, LeaseStatus, Outcome, QueueItem, Round, StackEntry, StackStatusEntry, StatusReport, WaitingEntry, Warning } from '../contract/types.generated.js';
import { readProjectionView } from '../readiness/view.js';
import { leaseState } from '../runtime/lease.js';
import { readRange } from '../store/jsonl.js';
import { statePaths, type StatePaths } from '../store/paths.js';
import { processAlive } from '../store/process.js';
import { forEachOutcome, readCheckpointFile, readLeaseFile, readState } from '../store/readers.js';
import { countLines, lastOutcomes } from './state-files.js';

export type { StatusReport };

/** How many of the last decisions `status` looks at for a git error they all share. */
const RECENT_DECISIONS = 5;

/** Waiting candidates listed by name (the count covers them all). */
export const WAITING_LISTED = 1000;

/** The report without `hooks`, which the command line adds (hooks are installed by the CLI, not the runtime). */
export type StateStatus = Omit<StatusReport, 'hooks'>;

/**
 * `waiting: false` leaves the waiting candidates out (an empty list; waiting_total from the last
 * round): watch's summary line is drawn every second and does not show them.
 */
export function status(loaded: LoadedConfig, ctx: Pick<Context, 'now'>, opts: { waiting?: boolean } = {}): StateStatus {
  const now = ctx.now();
  const paths = statePaths(loaded.config.state_dir);
  const cp = readCheckpointFile(paths);
  // The journal is the authority; the header caches its last round (and is older when a holder stopped before writing it).
  const state = readState(paths);
  const round = state.round ?? cp?.round ?? null;
  const ledger = ledgerSinceRound(paths, round);
  const leaseFile = readLeaseFile(paths);
  const lease = leaseStatus(leaseFile, now);
  const recent = lastOutcomes(paths.outcomes, RECENT_DECISIONS);
  const holderAlive = lease.state === 'held' && leaseFile !== null && processAlive(leaseFile.owner) !== false;
  return {
    generated_at: now.toISOString(),
    mode: loaded.config.mode,
    state_dir: paths.dir,
    lease,
    warnings: [mainRefWarning(loaded.repo, loaded.config.remote, loaded.config.main_branch), sameGitError(recent)].filter((w) => w !== null),
    queue: state.items.map((it, i) => ({
        position: i + 1,
        slug: it.slug,
        branch: it.branch,
        sha: it.sha,
        status: it.status,
        ready_at: it.ready_at,
        enqueued_at: it.enqueued_at,
        age_s: secondsSince(it.enqueued_at, now),
        holder_alive: it.status === 'in_progress' ? holderAlive : null,
      })),
    stack: state.stack.map((e, i) => stackEntryStatus(e, i, round, loaded.config.stack_window_seconds, now)),
    ...(opts.waiting === false ? { waiting: [], waiting_total: round?.queue.waiting ?? 0 } : waitingCandidates(paths, loaded.config.remote, round, now)),
    counts: ledger.counts,
    ingestion: ingestionStatus(paths, round, cp, state.items),
    rejected: countLines(paths.rejected),
    last_outcome: recent.at(-1) ?? null,
  };
}

/** A stack entry, its age, and why it is still there: not in the main it was last checked against, and its window not over. */
function stackEntryStatus(e: StackEntry, i: number, round: Round | null, windowSeconds: number, now: Date): StackStatusEntry {
  const checked = round?.stack_checked && Date.parse(round.stack_checked.at) >= Date.parse(e.decided_at) ? round.stack_checked : null;
  const expiresAt = new Date(Date.parse(e.decided_at) + windowSeconds * 1000).toISOString();
  const seen = checked ? `live main ${checked.main_sha.slice(0, 12)} did not contain it when the stack was last checked (${checked.at}), and its branch still did` : `live main ${e.main_sha?.slice(0, 12) ?? '?'} did not contain it when it was decided; not checked since`;
  return {
    position: i + 1,
    slug: e.slug,
    branch: e.branch,
    sha: e.sha,
    episode: e.episode,
    decided_at: e.decided_at,
    age_s: secondsSince(e.decided_at, now),
    main_sha: e.main_sha,
    checked,
    expires_at: expiresAt,
    why: `${seen}; it leaves when main contains it, when it is superseded or its branch is gone, or at ${expiresAt} (stack_window_seconds)`,
  };
}

/** The waiting candidates by name, from the holder's snapshot and the log after it (never the whole history). */
function waitingCandidates(paths: StatePaths, remote: string, round: Round | null, now: Date): Pick<StatusReport, 'waiting' | 'waiting_total'> {
  const { total, candidates } = readProjectionView(paths, remote, round).projection.waitingCandidates(WAITING_LISTED);
  const waiting = candidates.map(({ candidate: c, missing_review_approved, missing_branch_pushed, approved_other_sha }): WaitingEntry => ({
    slug: c.slug,
    branch: c.branch,
    sha: c.sha,
    ready_at: c.ready_at,
    age_s: secondsSince(c.ready_at, now),
    lacks: [...(missing_review_approved ? (['missing_review_approved'] as const) : []), ...(missing_branch_pushed ? (['missing_branch_pushed'] as const) : [])] as WaitingEntry['lacks'],
    approved_other_sha,
  }));
  return { waiting, waiting_total: total };
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

/**
 * The warning when every one of the recent evaluations (at least two; supersessions are not
 * evaluations) blocked with git_error and the same message — shas aside, which differ by candidate:
 * then the cause is the setup (a ref that is not there, a repository not fetched), not a candidate.
 */
function sameGitError(recent: readonly Outcome[]): Warning | null {
  const evaluated = recent.filter((o) => o.outcome !== 'superseded');
  if (evaluated.length < 2) return null;
  const shape = (o: Outcome) => (o.reasons.includes('git_error') ? (o.message ?? '').replace(/\b[0-9a-f]{40,64}\b/g, '<sha>') : null);
  const first = shape(evaluated[0] as Outcome);
  if (first === null || !evaluated.every((o) => shape(o) === first)) return null;
  const message = (evaluated.at(-1) as Outcome).message ?? '(no message)';
  return { code: 'same_git_error', message: `the last ${evaluated.length} decisions all blocked with the same git error, so the cause is likely the setup, not the candidates: ${message}` };
}

/** The round's counts plus the outcomes appended after it (the whole ledger, rotated segments included, before any round). */
function ledgerSinceRound(paths: StatePaths, round: Round | null): { counts: StatusReport['counts'] } {
  const counts: Counts = round ? { ...round.counts } : { would_integrate: 0, would_block: 0, superseded: 0 };
  forEachOutcome(paths, (o) => void (counts[o.outcome] += 1), round?.ledger ?? null);
  return { counts: { ...counts, total: counts.would_integrate + counts.would_block + counts.superseded } };
}

/**
 * How far ingestion lags. The round is written at the end of a drain round, the journal's enqueue
 * records as soon as a holder enqueues: lines up to the newest queued item's finalize_ready were
 * ingested already and are not counted as behind. (Queue positions are log positions: the live
 * file's offsets start at the round cursor's base.)
 */
function ingestionStatus(paths: StatePaths, round: Round | null, cp: CheckpointFile | null, queue: readonly QueueItem[]): IngestionStatus {
  const st = statOrNull(paths.readiness);
  const size = st?.size ?? 0;
  const log = round?.log;
  let offset = log?.offset ?? 0;
  let restarted: IngestionStatus['restarted'] = null;
  if (log && st && log.ino !== 0 && (st.ino !== log.ino || st.dev !== log.dev)) restarted = 'replaced';
  else if (size < offset) restarted = 'truncated';
  if (restarted) offset = 0;
  else offset = Math.max(offset, lineEndAfter(paths.readiness, Math.max(-1, ...queue.map((it) => it.log_offset - (log?.base ?? 0))), size));
  return { log: paths.readiness, size, offset, lag_bytes: size - offset, lag_lines: countLines(paths.readiness, offset), checkpoint_at: cp?.updated_at ?? round?.at ?? null, restarted };
}

/** The offset just past the line that starts at `lineStart` (0 for -1, or when that line is not whole). */
function lineEndAfter(path: string, lineStart: number, size: number): number {
  if (lineStart < 0 || lineStart >= size) return 0;
  // A readiness line is at most 64 KiB.
  const nl = readRange(path, lineStart, Math.min(size, lineStart + 64 * 1024 + 1)).indexOf(10);
  return nl === -1 ? 0 : lineStart + nl + 1;
}

function statOrNull(path: string): { size: number; ino: number; dev: number } | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const secondsSince = (iso: string, now: Date) => Math.round((now.getTime() - Date.parse(iso)) / 1000);

/** How long before the report was made, e.g. "40s ago". */
export const ago = (s: Pick<StatusReport, 'generated_at'>, iso: string) => `${shortDuration(Date.parse(s.generated_at) - Date.parse(iso))} ago`;

/** 40s, 3m, 5h, 2d. */
export function shortDuration(ms: number): string {
  const sec = Math.max(0, Math.round(ms / 1000));
  if (sec < 120) return `${sec}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  if (sec < 172_800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86_400)}d`;
}
