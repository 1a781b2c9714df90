/**
 * What the lease holder does with the state: recover it, ingest new readiness, drain the queue and
 * checkpoint. Every state write goes through `fenced`, so a holder that lost its lease writes nothing.
 * Order of writes makes crashes harmless: an outcome is appended (the commit point) before its queue
 * item is removed, and recovery reads the ledger after the last checkpoint to finish the job.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config/config.js';
import type { Evaluation } from '../engine/evaluate.js';
import type { Context } from '../context.js';
import type { CheckpointFile, Outcome, QueueItem, RejectedLine } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { appendOutcomes, readOutcomes } from '../ledger/ledger.js';
import { QueueState } from '../queue/queue.js';
import { ingest } from '../readiness/ingest.js';
import { Projection, type Candidate, type Effect } from '../readiness/projection.js';
import { readJson, writeJsonAtomic } from '../store/atomic-json.js';
import { appendRecords, emptyCursor, sizeOf, tailLines, type LogCursor } from '../store/jsonl.js';
import type { StatePaths } from '../store/paths.js';
import type { HeldLease } from './lease.js';
import { fenced } from './lease-store.js';

export type Evaluator = (candidate: QueueItem) => Promise<Evaluation>;

export type Counts = CheckpointFile['counts'];

export interface SessionDeps {
  paths: StatePaths;
  config: ResolvedConfig;
  ctx: Context;
  held: HeldLease;
  evaluate: Evaluator;
}

export const readCheckpoint = (paths: StatePaths) => readJson(paths.checkpoint, validators.checkpoint);
export const readQueue = (paths: StatePaths) => QueueState.fromFile(readJson(paths.queue, validators.queue));

function parseRejected(bytes: Buffer): RejectedLine | null {
  try {
    const r: unknown = JSON.parse(bytes.toString('utf8'));
    return validators.rejected(r) ? r : null;
  } catch {
    return null;
  }
}

export class HolderSession {
  private constructor(
    private readonly deps: SessionDeps,
    readonly projection: Projection,
    readonly queue: QueueState,
    private cursor: LogCursor,
    private rejectedOffset: number,
    private rejectedCount: number,
    readonly counts: Counts,
  ) {}

  /** Loads the checkpoint, finishes what a crashed holder left (ledger tail, in-progress items). */
  static async open(deps: SessionDeps): Promise<HolderSession> {
    const { paths, config, ctx, held } = deps;
    const cp = readCheckpoint(paths);
    const projection = cp ? Projection.restore(config.remote, cp.projection) : Projection.empty(config.remote);
    const queue = readQueue(paths);
    const counts: Counts = cp ? { ...cp.counts } : { would_integrate: 0, would_block: 0, superseded: 0 };
    const session = new HolderSession(deps, projection, queue, cp?.log ?? emptyCursor(), cp?.rejected_offset ?? 0, cp?.rejected ?? 0, counts);

    // Lines quarantined after the checkpoint (a crash before the next one) are not quarantined again.
    tailLines(paths.rejected, { ...emptyCursor(), offset: cp?.rejected_bytes ?? 0 }, (bytes) => {
      const r = parseRejected(bytes);
      if (!r) return;
      session.rejectedOffset = Math.max(session.rejectedOffset, r.offset + 1);
      session.rejectedCount += 1;
    }, { maxLine: 1 << 20 });
    const tail = readOutcomes(paths.outcomes, cp?.ledger_offset ?? 0);
    for (const o of tail.outcomes) {
      projection.markDecided(o);
      queue.drop(o);
      counts[o.outcome] += 1;
    }
    const interrupted = queue.list().filter((it) => it.status === 'in_progress');
    for (const it of interrupted) queue.transition(it, 'queued', 'recovered: its holder stopped before deciding', ctx.now(), held.epoch);
    if (interrupted.length > 0 || tail.outcomes.length > 0) await session.writeQueue();
    // Logged once written: a session that is not the holder's recovers nothing.
    for (const it of interrupted) ctx.logger.log('warn', 'item_recovered', { slug: it.slug, branch: it.branch, sha: it.sha, epoch: held.epoch });
    return session;
  }

  /**
   * Reads what is new in readiness.jsonl; enqueues what became ready; records supersessions.
   * `observed` is the log as this read saw it: an append after that read makes the log differ from it.
   */
  async ingest(): Promise<{ accepted: number; rejected: number; enqueued: number; superseded: number; observed: { size: number; ino: number } }> {
    const { paths, ctx, held } = this.deps;
    const now = ctx.now();
    const at = now.toISOString();
    const outcomes: Outcome[] = [];
    let enqueued = 0;
    const res = ingest(paths.readiness, this.cursor, this.projection, (effect) => {
      if (this.applyEffect(effect, now, at, outcomes)) enqueued += 1;
    });
    if (res.reset) {
      ctx.logger.log('warn', 'log_reset', { why: res.reset, file: paths.readiness });
      this.rejectedOffset = 0;
    }
    const rejected: RejectedLine[] = res.rejected
      .filter((r) => r.offset >= this.rejectedOffset)
      .map((r) => ({ ...r, rejected_at: at }));
    for (const r of rejected) ctx.logger.log('warn', 'line_rejected', { line: r.line, offset: r.offset, reason: r.reason, errors: r.errors });

    const changed = outcomes.length > 0 || enqueued > 0;
    await fenced(paths, held, ctx.now, () => {
      appendRecords(paths.rejected, rejected, { fsync: false, singleWriter: true });
      if (outcomes.length > 0) appendOutcomes(paths.outcomes, outcomes);
      if (changed) writeJsonAtomic(paths.queue, this.queue.toFile(ctx.now(), held.epoch));
    });
    for (const o of outcomes) this.decided(o);
    this.cursor = res.cursor;
    this.rejectedCount += rejected.length;
    // Rejections come in log order: the last one is the furthest (no spread: there may be 10^5 of them).
    const last = rejected.at(-1);
    if (last) this.rejectedOffset = last.offset + 1;
    return { accepted: res.accepted, rejected: rejected.length, enqueued, superseded: outcomes.length, observed: { size: res.cursor.offset + res.pendingBytes, ino: res.cursor.ino } };
  }

  /** Applies one projection effect to the queue; supersession outcomes go to `outcomes`. True when it enqueued. */
  private applyEffect(effect: Effect, now: Date, at: string, outcomes: Outcome[]): boolean {
    const { ctx } = this.deps;
    const c = effect.candidate;
    switch (effect.kind) {
      case 'ready': {
        if (this.projection.isDecided(c)) return false;
        // A live item of another candidate of the slug can only survive lost or replaced state files;
        // the projection's head is the newer one, so that item is superseded rather than the drain failing.
        const live = this.queue.ofSlug(c.slug);
        if (live && (live.branch !== c.branch || live.sha !== c.sha)) outcomes.push(this.supersede(live, c, now));
        if (!this.queue.enqueue(effect.candidate, effect.ready_ms, at)) return false;
        ctx.logger.log('info', 'enqueued', { slug: c.slug, branch: c.branch, sha: c.sha, ready_at: effect.candidate.ready_at });
        return true;
      }
      case 'stale':
        ctx.logger.log('info', 'superseded_on_arrival', { slug: c.slug, branch: c.branch, sha: c.sha, by_branch: effect.by.branch, by_sha: effect.by.sha });
        return false;
      case 'superseded': {
        const item = this.queue.get(c);
        if (item) outcomes.push(this.supersede(item, effect.by, now));
        return false;
      }
    }
  }

  private supersede(item: QueueItem, by: { branch: string; sha: string }, now: Date): Outcome {
    this.queue.transition(item, 'superseded', `superseded by ${by.branch}@${by.sha}`, now, this.deps.held.epoch);
    return this.outcome(item, { outcome: 'superseded', reasons: ['superseded'], superseded_by: { branch: by.branch, sha: by.sha } }, now, 0);
  }

  /** Evaluates queued items in FIFO order until the queue is empty or `shouldStop()`. */
  async drain(shouldStop: () => boolean): Promise<number> {
    const { paths, ctx, held } = this.deps;
    let decided = 0;
    for (let item = this.queue.next(); item && !shouldStop(); item = this.queue.next()) {
      this.queue.transition(item, 'in_progress', 'dequeued', ctx.now(), held.epoch);
      await this.writeQueue();
      const started = performance.now();
      const fields = await this.decide(item);
      const now = ctx.now();
      const outcome = this.outcome(item, fields, now, performance.now() - started);
      await fenced(paths, held, ctx.now, () => {
        appendOutcomes(paths.outcomes, [outcome]);
        this.queue.transition(item, outcome.outcome, outcome.reasons.join(',') || 'clean', now, held.epoch);
        writeJsonAtomic(paths.queue, this.queue.toFile(now, held.epoch));
      });
      this.decided(outcome);
      decided += 1;
    }
    return decided;
  }

  /** The re-check just before the merge: event conditions from the projection, then the git engine. */
  private async decide(item: QueueItem): Promise<Partial<Outcome> & Pick<Outcome, 'outcome' | 'reasons'>> {
    const cond = this.projection.conditions(item);
    if (cond.superseded_by) {
      return { outcome: 'superseded', reasons: ['superseded'], superseded_by: { branch: cond.superseded_by.branch, sha: cond.superseded_by.sha } };
    }
    const missing = [
      ...(cond.review_approved ? [] : (['missing_review_approved'] as const)),
      ...(cond.finalize_ready ? [] : (['missing_finalize_ready'] as const)),
      ...(cond.branch_pushed ? [] : (['missing_branch_pushed'] as const)),
    ];
    if (missing.length > 0) return { outcome: 'would_block', reasons: missing };
    return this.deps.evaluate(item);
  }

  private outcome(item: QueueItem, fields: Partial<Outcome> & Pick<Outcome, 'outcome' | 'reasons'>, now: Date, durationMs: number): Outcome {
    const record: Outcome = {
      schema_version: 1,
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
      decided_at: now.toISOString(),
      lease_epoch: this.deps.held.epoch,
      duration_ms: Math.round(durationMs * 1000) / 1000,
    };
    if (fields.superseded_by) record.superseded_by = fields.superseded_by;
    if (fields.message !== undefined) record.message = fields.message;
    if (fields.git_version !== undefined) record.git_version = fields.git_version;
    if (fields.engine !== undefined) record.engine = fields.engine;
    return record;
  }

  private decided(o: Outcome): void {
    this.projection.markDecided(o);
    this.counts[o.outcome] += 1;
    this.deps.ctx.logger.log(o.outcome === 'would_block' ? 'warn' : 'info', 'decided', {
      outcome: o.outcome,
      slug: o.slug,
      branch: o.branch,
      sha: o.sha,
      reasons: o.reasons,
      conflicts: o.conflicts.map((c) => `${c.path}:${c.kind}`),
      epoch: o.lease_epoch,
      duration_ms: o.duration_ms,
    });
  }

  private writeQueue(): Promise<void> {
    const { paths, ctx, held } = this.deps;
    return fenced(paths, held, ctx.now, () => writeJsonAtomic(paths.queue, this.queue.toFile(ctx.now(), held.epoch)));
  }

  /** Log position, projection and counts, written together so a restart resumes from here. */
  checkpoint(): Promise<void> {
    const { paths, ctx, held } = this.deps;
    return fenced(paths, held, ctx.now, () => {
      const cp: CheckpointFile = {
        schema_version: 1,
        updated_at: ctx.now().toISOString(),
        log: this.cursor,
        ledger_offset: sizeOf(paths.outcomes),
        counts: this.counts,
        rejected: this.rejectedCount,
        rejected_offset: this.rejectedOffset,
        rejected_bytes: sizeOf(paths.rejected),
        last_epoch: held.epoch,
        projection: this.projection.snapshot(),
      };
      writeJsonAtomic(paths.checkpoint, cp);
    });
  }

  get logOffset(): number {
    return this.cursor.offset;
  }
}

export type { Candidate };
