/**
 * What the holder decides, as plain functions over plain data (as changesets' assembleReleasePlan is):
 * what a projection effect does to the queue, what the event conditions decide before git is asked,
 * the outcome record, what recovery does with an inherited queue, and when to snapshot or compact.
 * The session (session.ts) applies these plans: fenced writes, logs, nothing else.
 */
import type { Outcome, QueueItem, ReasonCode } from '../contract/types.generated.js';
import type { Candidate, CandidateRef, Effect, RetryIgnored, RetryRef } from '../readiness/projection.js';

export interface QueueView {
  ofSlug(slug: string): QueueItem | undefined;
}

export type EffectPlan =
  /**
   * Enqueue in `episode` (after a retry: `retry`); `supersede` first: a live item of another
   * candidate of the slug (only lost or replaced state files leave one).
   */
  | { do: 'enqueue'; candidate: Candidate; ready_ms: number; episode: number; retry: RetryRef | null; supersede: QueueItem | null }
  /** A retry that starts no episode: logged with why, so that whoever asked for it can see. */
  | { do: 'retry_ignored'; slug: string; sha: string | null; why: RetryIgnored; current: CandidateRef | null; episode: number }
  | { do: 'supersede'; item: QueueItem; by: Candidate }
  | { do: 'stale'; candidate: Candidate; by: CandidateRef | null }
  /** Nothing to do: the candidate already has its outcome, is already queued, or (superseded) was not queued. */
  | { do: 'nothing'; why: 'decided' | 'queued' | 'not_queued' };

const same = (a: CandidateRef, b: CandidateRef) => a.slug === b.slug && a.branch === b.branch && a.sha === b.sha;

export function planEffect(effect: Effect, queue: QueueView, isDecided: (c: CandidateRef & { episode: number }) => boolean): EffectPlan {
  switch (effect.kind) {
    case 'ready': {
      const c = effect.candidate;
      // The ledger is the authority: a candidate decided in this episode is never queued again, whatever else says so.
      if (isDecided({ ...c, episode: effect.episode })) return { do: 'nothing', why: 'decided' };
      const live = queue.ofSlug(c.slug);
      if (live && same(live, c)) return { do: 'nothing', why: 'queued' };
      return { do: 'enqueue', candidate: c, ready_ms: effect.ready_ms, episode: effect.episode, retry: effect.retry ?? null, supersede: live ?? null };
    }
    case 'retry_ignored':
      return { do: 'retry_ignored', slug: effect.slug, sha: effect.sha, why: effect.why, current: effect.current, episode: effect.episode };
    case 'superseded': {
      const live = queue.ofSlug(effect.slug);
      if (!live || same(live, effect.by)) return { do: 'nothing', why: 'not_queued' };
      return { do: 'supersede', item: live, by: effect.by };
    }
    case 'stale':
      return { do: 'stale', candidate: effect.candidate, by: effect.by };
  }
}

export type DecisionFields = Partial<Omit<Outcome, 'outcome' | 'reasons'>> & Pick<Outcome, 'outcome' | 'reasons'>;

export interface Conditions {
  review_approved: boolean;
  finalize_ready: boolean;
  branch_pushed: boolean;
  superseded_by: CandidateRef | 'unknown' | null;
}

/** The re-check just before the merge, from events alone: a verdict, or `evaluate` (git decides). */
export function decideFromConditions(cond: Conditions): { evaluate: true } | { evaluate: false; fields: DecisionFields } {
  if (cond.superseded_by) {
    const by = cond.superseded_by;
    return { evaluate: false, fields: { outcome: 'superseded', reasons: ['superseded'], ...(by === 'unknown' ? {} : { superseded_by: { branch: by.branch, sha: by.sha } }) } };
  }
  const missing: ReasonCode[] = [];
  if (!cond.review_approved) missing.push('missing_review_approved');
  if (!cond.finalize_ready) missing.push('missing_finalize_ready');
  if (!cond.branch_pushed) missing.push('missing_branch_pushed');
  if (missing.length > 0) return { evaluate: false, fields: { outcome: 'would_block', reasons: missing } };
  return { evaluate: true };
}

export const supersededFields = (by: CandidateRef): DecisionFields => ({ outcome: 'superseded', reasons: ['superseded'], superseded_by: { branch: by.branch, sha: by.sha } });

export interface OutcomeMeta {
  epoch: number;
  decidedAt: Date;
  durationMs: number;
  base: 'queue' | 'tip';
}

/** The ledger record of one decision. */
export function buildOutcome(item: QueueItem, fields: DecisionFields, meta: OutcomeMeta): Outcome {
  const record: Outcome = {
    schema_version: 2,
    outcome: fields.outcome,
    slug: item.slug,
    branch: item.branch,
    sha: item.sha,
    reasons: fields.reasons,
    conflicts: fields.conflicts ?? [],
    main_sha: fields.main_sha ?? null,
    merge_base: fields.merge_base ?? null,
    merged_tree: fields.merged_tree ?? null,
    ready_at: item.ready_at,
    enqueued_at: item.enqueued_at,
    decided_at: meta.decidedAt.toISOString(),
    lease_epoch: meta.epoch,
    duration_ms: Math.round(meta.durationMs * 1000) / 1000,
    episode: item.episode ?? 1,
    base: meta.base,
    ahead: fields.ahead ?? [],
  };
  if (fields.superseded_by) record.superseded_by = fields.superseded_by;
  if (fields.collides_with) record.collides_with = fields.collides_with;
  if (fields.message !== undefined) record.message = fields.message;
  if (fields.git_version !== undefined) record.git_version = fields.git_version;
  if (fields.engine !== undefined) record.engine = fields.engine;
  return record;
}

export interface RecoveryPlan {
  /** Items whose outcome is already in the ledger: they leave the queue without a second one. */
  drop: QueueItem[];
  /** Items a holder stopped evaluating: back to queued. */
  requeue: QueueItem[];
}

export function planRecovery(items: readonly QueueItem[], isDecided: (item: QueueItem) => boolean): RecoveryPlan {
  const drop: QueueItem[] = [];
  const requeue: QueueItem[] = [];
  for (const it of items) {
    if (isDecided(it)) drop.push(it);
    else if (it.status === 'in_progress') requeue.push(it);
  }
  return { drop, requeue };
}

/** Bounds that keep a restart fast and the writes of a round small. */
export const BOUNDS = {
  /** Log bytes a restart may replay after the snapshot: about a second's worth of events at the least. */
  minTailBytes: 4 * 1024 * 1024,
  maxTailBytes: 16 * 1024 * 1024,
  /** Journal records since the base may weigh this many times the live state before it is rewritten. */
  journalRatio: 4,
  minJournalBytes: 256 * 1024,
  /** Decisions whose ledger fsync may be grouped. */
  maxGroup: 64,
};

/**
 * Whether to write a projection snapshot: when the log after the last one grew past a bound that
 * scales with the snapshot's size (rewriting a large snapshot must stay rare, replaying the tail
 * must stay fast), or when `forced` (shutdown, a rotation: the tail to replay must stay in one file).
 */
export function shouldSnapshot(tailBytes: number, snapshotBytes: number, forced: boolean): boolean {
  if (forced) return tailBytes > 0;
  return tailBytes > Math.min(BOUNDS.maxTailBytes, Math.max(BOUNDS.minTailBytes, snapshotBytes / 4));
}

/** Whether to rewrite the journal: its records since the base outweigh the live state by the ratio. */
export function shouldCompact(changeBytes: number, liveBytes: number): boolean {
  return changeBytes > Math.max(BOUNDS.minJournalBytes, BOUNDS.journalRatio * liveBytes);
}
