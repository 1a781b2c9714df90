/**
 * What the lease holder does with the state: open it (recovering what a crashed or ousted holder
 * left), ingest new readiness, drain the queue, end rounds. Deciding is plan.ts's; this file applies
 * the plans: every write is fenced (the lease checked, then the write through the tenure's
 * descriptors, which a taker orphans), every happening logged.
 *
 * Crash safety rests on ordering. The ledger line is the commit point of a decision; the journal's
 * terminal record for it is written only after the ledger line is durable, so the journal never says
 * "decided" about an outcome the ledger could lose. A restart reads the ledger after the last round and
 * drops from the queue whatever is decided there: the ledger is the authority.
 */
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors, isShadowError } from '../contract/errors.js';
import type { Counts, JournalRecord, LogCursor, Outcome, QueueItem, RejectedLine, Round, SnapshotRef, StackChecked, StackEntry } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import type { Evaluation, EvaluationContext } from '../engine/evaluate.js';
import { appendOutcomes } from '../ledger/ledger.js';
import { QueueState } from '../queue/queue.js';
import { eventAt, ingest, replay } from '../readiness/ingest.js';
import { Projection, sectionsFromBytes, type ProjectionSections, type RetryIgnored } from '../readiness/projection.js';
import { assertValid, writeJsonAtomic } from '../store/atomic-json.js';
import { sweepTempFiles } from '../store/files.js';
import { HolderLog, sealAgainstLateWriters } from '../store/holder-log.js';
import { emptyCursor } from '../store/jsonl.js';
import { journalFile, readJournal, stackKey, writeJournal, type JournalFile, type JournalState } from '../store/journal.js';
import { snapshotName, type StatePaths } from '../store/paths.js';
import { forEachOutcome, forEachRejected } from '../store/readers.js';
import { pruneSnapshots, readSnapshot, writeSnapshot } from '../store/snapshot.js';
import type { HeldLease, Takeover } from './lease.js';
import { checkHeld } from './lease-store.js';
import { BOUNDS, buildOutcome, decideFromConditions, planEffect, planRecovery, shouldCompact, shouldSnapshot, supersededFields, type DecisionFields } from './plan.js';
import { droppedForTip, entryOf, expiredEntries, joinsStack, StackRepair, supersededEntry, type StackDrop } from './stack.js';

/** The git engine as the runtime uses it: one per tenure, closed at its end (and on lease loss). */
export interface Engine {
  evaluate(candidate: QueueItem, signal: AbortSignal, context?: EvaluationContext): Promise<Evaluation>;
  close(): Promise<void>;
}
export type EngineFactory = () => Engine;

/** Test seams: where a test forces a pause exactly between a fenced check and its write. */
export interface SessionHooks {
  beforeWrite?(what: 'outcome' | 'journal' | 'stack' | 'rejected' | 'checkpoint' | 'snapshot' | 'seal'): void | Promise<void>;
}

export interface SessionDeps {
  paths: StatePaths;
  config: ResolvedConfig;
  ctx: Context;
  held: HeldLease;
  /** How the lease was had: a takeover seals what the previous holder could still write. */
  takeover?: { kind: Takeover; sinceMs: number | null };
  /** Aborted when the lease is lost (the renewal found it gone, or a fenced write did). */
  signal?: AbortSignal;
  hooks?: SessionHooks;
}

export type { Counts };

const zeroCounts = (): Counts => ({ would_integrate: 0, would_block: 0, superseded: 0 });

/** What a holder knows at the end of a tenure, kept by `watch` so its next tenure need not load it again. */
export interface SessionMemory {
  epoch: number;
  journal: string;
  journalSize: number;
  state: Omit<SessionState, 'journalFile'>;
}

interface SessionState {
  projection: Projection;
  queue: QueueState;
  /** The stack (base: queue), in decision order. */
  stack: StackEntry[];
  /** The live main the stack was last checked against. */
  stackChecked: StackChecked | null;
  cursor: LogCursor;
  counts: Counts;
  rejectedCount: number;
  snapshot: SnapshotRef | null;
  snapshotBytes: number;
  snapshotSeq: number;
  journalFile: JournalFile;
  /** Bytes of journal records since its base, and of the live state: the compaction ratio. */
  changeBytes: number;
}

interface Pending {
  item: QueueItem;
  outcome: Outcome;
}

const LINE_BYTES_PER_ITEM = 400;
/** Candidates after the one evaluated that the engine may merge in the same batch. */
const UPCOMING = 32;

export class HolderSession {
  /** Decisions whose ledger lines are written but not yet fsynced; their journal records wait for that fsync. */
  private pending: Pending[] = [];
  /** Stack entries whose stack_push waits for their ledger line's fsync (as the terminal transition does). */
  private unpushed = new Set<string>();
  /** Stack records the ledger after the last round calls for (written by the recovery). */
  private stackRepairs: JournalRecord[] = [];
  /** Quarantined lines (offset:line) already in rejected.jsonl after the last round: a replay does not quarantine them again. */
  private quarantined = new Set<string>();
  private dirty = false;
  private forceSnapshot = false;

  private constructor(
    private readonly deps: SessionDeps,
    private s: SessionState,
    private journal: HolderLog,
    private readonly ledger: HolderLog,
    private readonly rejectedLog: HolderLog,
  ) {
    s.projection.readBackWith((position) => this.readBack(position));
  }

  get projection(): Projection {
    return this.s.projection;
  }

  get queue(): QueueState {
    return this.s.queue;
  }

  get counts(): Counts {
    return this.s.counts;
  }

  get logOffset(): number {
    return this.s.cursor.offset;
  }

  /**
   * Opens the state for a tenure: the live journal (a new one after a takeover, so an ex-holder's
   * late appends go nowhere), then — after a takeover — the ledger and the quarantine replaced by
   * copies; the projection from its snapshot plus the log after it; then the ledger after the last
   * round, which drops from the queue whatever it already decided, and in-progress items go back.
   */
  static async open(deps: SessionDeps, memory: SessionMemory | null = null): Promise<HolderSession> {
    const { paths, ctx, held } = deps;
    const log = (level: 'info' | 'warn', event: string, fields: Record<string, string | number>) => ctx.logger.log(level, event, { epoch: held.epoch, ...fields });
    const swept = sweepTempFiles(paths.dir, ctx.now());
    if (swept.length > 0) log('info', 'temp_files_swept', { files: swept.join(',') });

    const takeover = deps.takeover && deps.takeover.kind !== 'none';
    const j = readJournal(paths);
    for (const p of j.problems) log('warn', 'journal_reconciled', { problem: p });
    const reuse = !takeover && memory !== null && j.file?.name === memory.journal && j.size === memory.journalSize && j.epoch === memory.epoch;

    // A taker first fixes the journal it continues from (read before the ledger is sealed: every
    // terminal record in it was preceded by its ledger line, which the seal then keeps).
    let journal: HolderLog;
    let file: JournalFile;
    const round = j.round ?? initialRound(held.epoch, ctx.now());
    if (takeover || !j.file || j.problems.length > 0) {
      file = journalFile(held.epoch, 0);
      await fencedOpen(deps, 'journal');
      journal = writeJournal(paths, file, { t: 'base', epoch: held.epoch, at: ctx.now().toISOString(), items: j.items.length, round }, j.items, j.stack);
    } else {
      file = j.file;
      journal = HolderLog.open(`${paths.dir}/${file.name}`, { rotatable: false });
    }
    if (takeover) {
      try {
        await fencedOpen(deps, 'seal');
        const since = deps.takeover?.sinceMs ?? null;
        const sealed = sealAgainstLateWriters(paths.outcomes, since, () => assertHeld(deps)) + sealAgainstLateWriters(paths.rejected, since, () => assertHeld(deps));
        log('warn', 'files_sealed', { files: sealed, why: 'a takeover: whatever the previous holder still writes goes to unlinked copies' });
      } catch (e) {
        journal.close();
        throw e;
      }
    }
    const ledger = HolderLog.open(paths.outcomes, { rotatable: true });
    const rejectedLog = HolderLog.open(paths.rejected, { rotatable: true });
    const why = checkHeld(paths, held, ctx.now());
    if (why) {
      journal.close();
      ledger.close();
      rejectedLog.close();
      throw errors.leaseLost(held.epoch, why);
    }
    for (const [file, valid] of [[ledger, validators.outcome], [rejectedLog, validators.rejected]] as const) {
      const repaired = file.repairTail((line) => isValidJson(line, valid));
      if (repaired) log('warn', 'torn_tail_repaired', { file: file.path, ...(repaired.completed > 0 ? { completed_bytes: repaired.completed } : { removed: repaired.removed }) });
    }

    const state: SessionState = reuse && memory ? { ...memory.state, journalFile: file } : loadState(deps, j, round, file, log);
    const session = new HolderSession(deps, state, journal, ledger, rejectedLog);
    if (reuse) {
      log('info', 'state_reused', { journal: file.name });
    } else {
      session.reconcileWithLedger(round, j.stackSeen);
      session.readQuarantineSince(round);
      // A queued item's episode is the head's, even when the retry that started it came after the snapshot.
      for (const it of state.queue.list()) state.projection.noteQueued(it);
    }
    await session.recover();
    await session.appendJournal([{ t: 'tenure', epoch: held.epoch, at: ctx.now().toISOString(), owner: held.owner }], true);
    return session;
  }

  /**
   * The ledger after the last round: its counts, every candidate decided there is decided here, and
   * the stack gets what those decisions did to it that the journal lost (`seen`: what it has).
   */
  private reconcileWithLedger(round: Round, seen: ReadonlySet<string>): void {
    const { paths, held, ctx } = this.deps;
    const { projection, counts } = this.s;
    const snapLedger = this.s.snapshot?.ledger ?? null;
    const sameStart = snapLedger !== null && JSON.stringify(snapLedger) === JSON.stringify(round.ledger);
    const now = ctx.now();
    const repair = new StackRepair(this.s.stack, seen, now.getTime() - this.deps.config.stack_window_seconds * 1000);
    const invalid = forEachOutcome(paths, (o) => {
      projection.markDecided(o);
      counts[o.outcome] += 1;
      repair.apply(o);
    }, round.ledger).invalid;
    const repaired = repair.result();
    this.s.stack = repaired.stack;
    const at = now.toISOString();
    this.stackRepairs = [...repaired.drop.map((d) => dropStackRecord(d, at, held.epoch)), ...repaired.push.map((entry): JournalRecord => ({ t: 'stack_push', epoch: held.epoch, entry }))];
    for (const d of repaired.drop) this.logStackDrop(d);
    for (const e of repaired.push) ctx.logger.log('warn', 'stack_reconciled', { slug: e.slug, branch: e.branch, sha: e.sha, epoch: held.epoch, why: 'its would_integrate decision is in the ledger, its stack record was lost: the ledger is the authority' });
    // The snapshot's decided set may be older than the round: the outcomes between are decided too.
    if (!sameStart) forEachOutcome(paths, (o) => projection.markDecided(o), snapLedger);
    if (invalid > 0) this.deps.ctx.logger.log('warn', 'ledger_invalid_lines', { lines: invalid, file: paths.outcomes, epoch: this.deps.held.epoch });
  }

  /** Lines quarantined after the last round (a crash before the next) are not quarantined again. */
  private readQuarantineSince(round: Round): void {
    forEachRejected(this.deps.paths, (r) => {
      this.quarantined.add(`${r.offset}:${r.line}`);
      this.s.rejectedCount += 1;
    }, round.rejected.position);
  }

  /**
   * Items the ledger already decided leave the queue; items a holder stopped evaluating go back to
   * queued; the stack gets the records the ledger calls for.
   */
  private async recover(): Promise<void> {
    const { ctx, held } = this.deps;
    const { queue, projection } = this.s;
    const repairs = this.stackRepairs;
    this.stackRepairs = [];
    const plan = planRecovery(queue.list(), (c) => projection.isDecided(c));
    const now = ctx.now();
    // The stack's repairs and the queue's in one fenced append (durable when the queue changed).
    const records: JournalRecord[] = [...repairs];
    for (const it of plan.drop) {
      queue.drop(it);
      records.push(dropRecord(it, now, held.epoch));
    }
    for (const it of plan.requeue) records.push(transitionRecord(it, queue.transition(it, 'queued', 'recovered: its holder stopped before deciding', now, held.epoch).transitions.at(-1), held.epoch));
    await this.appendJournal(records, records.length > repairs.length, repairs.length > 0 ? 'stack' : 'journal');
    for (const it of plan.drop) ctx.logger.log('warn', 'queue_reconciled', { slug: it.slug, branch: it.branch, sha: it.sha, epoch: held.epoch, why: 'its outcome is already in the ledger (an older queue state): it is not decided again' });
    for (const it of plan.requeue) ctx.logger.log('warn', 'item_recovered', { slug: it.slug, branch: it.branch, sha: it.sha, epoch: held.epoch });
  }

  /**
   * Reads what is new in readiness.jsonl; enqueues what became ready; records supersessions.
   * `accepted`: valid events read; `applied`: those that changed something (not seen before).
   * `observed` is the log as this read saw it: an append after that read makes the log differ from it.
   */
  async ingest(): Promise<{ accepted: number; applied: number; rejected: number; enqueued: number; superseded: number; observed: { size: number; ino: number } }> {
    const { paths, ctx, held } = this.deps;
    const { projection, queue } = this.s;
    const now = ctx.now();
    const at = now.toISOString();
    const outcomes: Pending[] = [];
    const records: JournalRecord[] = [];
    const rejected: RejectedLine[] = [];
    let enqueued = 0;
    const res = ingest(paths.readiness, this.s.cursor, projection, {
      onEffect: (effect) => {
        const plan = planEffect(effect, queue, (c) => projection.isDecided(c));
        // A newer finalize_ready of a stacked slug supersedes its entry, whether or not a queue item goes with it.
        if (effect.kind === 'superseded') this.dropFromStack([supersededEntry(this.s.stack, effect.slug, effect.by)], records, at);
        switch (plan.do) {
          case 'enqueue': {
            if (plan.supersede) outcomes.push(this.supersede(plan.supersede, plan.candidate, now, records));
            const item = queue.enqueue(plan.candidate, plan.ready_ms, at, plan.episode);
            if (!item) return;
            // Its slug's entry leaves the stack: the owner of main would merge this candidate (or episode) instead.
            this.dropFromStack([supersededEntry(this.s.stack, item.slug)], records, at);
            records.push({ t: 'enqueue', epoch: held.epoch, item: structuredClone(item) });
            enqueued += 1;
            const retry = plan.retry ? { retry_requested_by: plan.retry.requested_by, retry_requested_at: plan.retry.requested_at } : {};
            ctx.logger.log('info', 'enqueued', { slug: item.slug, branch: item.branch, sha: item.sha, ready_at: item.ready_at, episode: plan.episode, ...retry });
            return;
          }
          case 'retry_ignored':
            ctx.logger.log('warn', 'retry_ignored', { slug: plan.slug, sha: plan.sha ?? undefined, why: RETRY_IGNORED[plan.why], branch: plan.current?.branch, current_sha: plan.current?.sha, episode: plan.episode || undefined });
            return;
          case 'supersede':
            outcomes.push(this.supersede(plan.item, plan.by, now, records));
            return;
          case 'stale':
            ctx.logger.log('info', 'superseded_on_arrival', { slug: plan.candidate.slug, branch: plan.candidate.branch, sha: plan.candidate.sha, by_branch: plan.by?.branch, by_sha: plan.by?.sha });
            return;
          case 'nothing':
            return;
        }
      },
      onRejected: (r) => {
        if (this.quarantined.size > 0 && this.quarantined.has(`${r.offset}:${r.line}`)) return;
        rejected.push({ ...r, rejected_at: at });
      },
    });
    if (res.reset) {
      ctx.logger.log('warn', 'log_reset', { why: res.reset, file: paths.readiness, epoch: held.epoch });
      this.forceSnapshot = true;
    }
    if (res.rotated) {
      ctx.logger.log('info', 'log_rotated', { file: paths.readiness, epoch: held.epoch });
      this.forceSnapshot = true;
    }
    for (const r of rejected) ctx.logger.log('warn', 'line_rejected', { line: r.line, offset: r.offset, reason: r.reason, errors: r.errors });

    if (rejected.length > 0) {
      for (const r of rejected) assertValid(paths.rejected, r, validators.rejected);
      await this.fenced('rejected', [this.rejectedLog], () => this.rejectedLog.append(rejected.map((r) => `${JSON.stringify(r)}\n`).join(''), { fsync: false }));
    }
    if (outcomes.length > 0) {
      await this.fenced('outcome', [this.ledger], () => appendOutcomes(this.ledger, outcomes.map((p) => p.outcome), { fsync: true }));
    }
    if (records.length > 0) await this.appendJournal(records, false);
    for (const p of outcomes) this.decided(p.outcome);
    if (res.cursor.offset !== this.s.cursor.offset || res.cursor.ino !== this.s.cursor.ino || rejected.length > 0) this.dirty = true;
    this.s.cursor = res.cursor;
    this.s.rejectedCount += rejected.length;
    this.quarantined.clear();
    return { accepted: res.accepted, applied: res.accepted - res.unchanged, rejected: rejected.length, enqueued, superseded: outcomes.length, observed: res.observed };
  }

  private supersede(item: QueueItem, by: { branch: string; sha: string }, now: Date, records: JournalRecord[]): Pending {
    const { held } = this.deps;
    const t = this.s.queue.transition(item, 'superseded', `superseded by ${by.branch}@${by.sha}`, now, held.epoch).transitions.at(-1);
    records.push(transitionRecord(item, t, held.epoch));
    return { item, outcome: buildOutcome(item, supersededFields({ slug: item.slug, ...by }), this.meta(now, 0)) };
  }

  /**
   * Evaluates queued items in FIFO order until the queue is empty or `stop` aborts. Each outcome
   * line is written as soon as it is decided; their fsync is grouped (up to BOUNDS.maxGroup, and at
   * the end of the drain): a crash before the fsync loses only decisions whose queue records were not
   * written either (they wait for it), so they are decided again, never twice.
   */
  async drain(engine: Engine, stop: AbortSignal): Promise<number> {
    const { ctx, held } = this.deps;
    const { queue, projection } = this.s;
    const lost = this.deps.signal ?? new AbortController().signal;
    let decided = 0;
    try {
      await this.pruneStack();
      for (let item = queue.next(); item && !stop.aborted && !lost.aborted; item = queue.next()) {
        if (projection.isDecided(item)) {
          // The ledger already has it (an older queue state): never evaluated or appended again.
          await this.dropDecided(item);
          continue;
        }
        const t = queue.transition(item, 'in_progress', 'dequeued', ctx.now(), held.epoch).transitions.at(-1);
        // Visibility only (status shows it): not needed for crash safety, so not fsynced.
        await this.appendJournal([transitionRecord(item, t, held.epoch)], false);
        const started = performance.now();
        // A stop (SIGTERM) lets the evaluation finish; a lost lease aborts it and writes nothing.
        const { fields, stack } = await this.decide(engine, item, lost);
        if (lost.aborted) break;
        if (stack) await this.applyStackCheck(stack);
        const now = ctx.now();
        const outcome = buildOutcome(item, fields, this.meta(now, performance.now() - started));
        await this.fenced('outcome', [this.ledger], () => appendOutcomes(this.ledger, [outcome], { fsync: false }));
        queue.transition(item, outcome.outcome, outcome.reasons.join(',') || 'clean', now, held.epoch);
        this.pending.push({ item, outcome });
        if (joinsStack(outcome)) {
          // Later candidates are merged onto it at once; its stack record waits for the ledger's fsync.
          const entry = entryOf(outcome);
          this.s.stack.push(entry);
          this.unpushed.add(stackKey(entry));
        }
        this.decided(outcome);
        decided += 1;
        if (this.pending.length >= BOUNDS.maxGroup) await this.flush();
      }
    } finally {
      if (!lost.aborted) await this.flush();
    }
    return decided;
  }

  private async decide(engine: Engine, item: QueueItem, signal: AbortSignal): Promise<{ fields: DecisionFields; stack?: Evaluation['stack'] }> {
    const verdict = decideFromConditions(this.s.projection.conditions(item));
    if (!verdict.evaluate) return { fields: verdict.fields };
    const { base } = this.deps.config;
    try {
      const { stack, ...fields } = await engine.evaluate(item, signal, { base, stack: base === 'queue' ? [...this.s.stack] : [], upcoming: this.s.queue.upcoming(UPCOMING) });
      return stack ? { fields, stack } : { fields };
    } catch (e) {
      if (signal.aborted) throw lostReason(signal, this.deps.held.epoch);
      // Only git and state failures may become a verdict, and the engine makes those itself: anything
      // thrown is a failure of the tenure (the item stays in progress and is recovered), ours a bug.
      if (isShadowError(e)) throw e;
      throw errors.internal(`evaluating ${item.slug} ${item.branch}@${item.sha}`, e);
    }
  }

  /** Entries past the window leave the stack (the whole stack with base: tip), at the start of each drain. */
  private async pruneStack(): Promise<void> {
    const { config, ctx } = this.deps;
    if (this.s.stack.length === 0) return;
    const now = ctx.now();
    const drops = config.base === 'tip' ? droppedForTip(this.s.stack) : expiredEntries(this.s.stack, now, config.stack_window_seconds);
    const records: JournalRecord[] = [];
    this.dropFromStack(drops, records, now.toISOString());
    await this.appendJournal(records, false, 'stack');
  }

  /** What the engine found checking the stack: the entries that leave it, and the main it checked against. */
  private async applyStackCheck(found: NonNullable<Evaluation['stack']>): Promise<void> {
    const at = this.deps.ctx.now().toISOString();
    const records: JournalRecord[] = [];
    this.dropFromStack(found.left.map((l) => ({ entry: l.entry, reason: l.reason, main_sha: found.checked.main_sha, why: l.message })), records, at);
    await this.appendJournal(records, false, 'stack');
    this.s.stackChecked = found.checked;
    this.dirty = true;
  }

  /**
   * Takes entries out of the stack, with a stack_drop record each — none for an entry whose push is
   * not written yet (it waits for the ledger's fsync, and now never comes).
   */
  private dropFromStack(drops: readonly (StackDrop | null)[], records: JournalRecord[], at: string): void {
    for (const d of drops) {
      if (!d) continue;
      const key = stackKey(d.entry);
      const i = this.s.stack.findIndex((e) => stackKey(e) === key);
      if (i === -1) continue;
      this.s.stack.splice(i, 1);
      if (!this.unpushed.delete(key)) records.push(dropStackRecord(d, at, this.deps.held.epoch));
      this.logStackDrop(d);
    }
  }

  private logStackDrop(d: StackDrop): void {
    const { entry } = d;
    this.deps.ctx.logger.log('info', 'stack_left', { slug: entry.slug, branch: entry.branch, sha: entry.sha, reason: d.reason, why: d.why, main_sha: d.main_sha, epoch: this.deps.held.epoch });
  }

  private async dropDecided(item: QueueItem): Promise<void> {
    const { ctx, held } = this.deps;
    this.s.queue.drop(item);
    await this.appendJournal([dropRecord(item, ctx.now(), held.epoch)], false);
    ctx.logger.log('warn', 'queue_reconciled', { slug: item.slug, branch: item.branch, sha: item.sha, epoch: held.epoch, why: 'its outcome is already in the ledger: it is not decided again' });
  }

  /** Makes the pending outcome lines durable, then writes their terminal queue records (never before). */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const done = this.pending;
    // Syncing our own descriptor needs no fence (orphaned or not, it harms nobody); the records after it do.
    this.ledger.sync();
    this.pending = [];
    const { held } = this.deps;
    // Entries still waiting for their push (one that left the stack meanwhile is written nowhere).
    const pushed = done.filter((p) => joinsStack(p.outcome)).map((p) => entryOf(p.outcome)).filter((e) => this.unpushed.delete(stackKey(e)));
    // The terminal records, then the pushes: one fenced append.
    const records: JournalRecord[] = [
      ...done.map((p) => transitionRecord(p.item, p.item.transitions.at(-1), held.epoch)),
      ...pushed.map((entry): JournalRecord => ({ t: 'stack_push', epoch: held.epoch, entry })),
    ];
    await this.appendJournal(records, false, pushed.length > 0 ? 'stack' : 'journal');
  }

  private meta(now: Date, durationMs: number) {
    return { epoch: this.deps.held.epoch, decidedAt: now, durationMs, base: this.deps.config.base };
  }

  private decided(o: Outcome): void {
    this.s.projection.markDecided(o);
    this.s.counts[o.outcome] += 1;
    this.dirty = true;
    this.deps.ctx.logger.log(o.outcome === 'would_block' ? 'warn' : 'info', 'decided', {
      outcome: o.outcome,
      slug: o.slug,
      branch: o.branch,
      sha: o.sha,
      reasons: o.reasons,
      conflicts: o.conflicts.map((c) => `${c.path}:${c.kind}`),
      ahead: o.ahead?.map((a) => a.slug),
      collides_with: o.collides_with?.map((a) => a.slug),
      epoch: o.lease_epoch,
      duration_ms: o.duration_ms,
    });
  }

  /**
   * Journal records are written only while the ledger descriptor is the live file too: a record
   * calling a candidate decided must never outlive its ledger line, which a ledger renamed over
   * (an overtaken taker's late seal, a `sed -i`) would have left where nobody reads it.
   */
  private async appendJournal(records: readonly JournalRecord[], fsync: boolean, what: 'journal' | 'stack' = 'journal'): Promise<void> {
    if (records.length === 0) return;
    const path = this.journal.path;
    const text = records.map((r) => (assertValid(path, r, validators.journal), `${JSON.stringify(r)}\n`)).join('');
    await this.fenced(what, [this.journal, this.ledger], () => this.journal.append(text, { fsync }));
    this.s.changeBytes += text.length;
    this.dirty = true;
  }

  /**
   * Runs `write` only while the lease is ours: the files about to be written verified to be the live
   * ones (a rotated one reopened), then the claims and lease.json checked. In that order: every
   * descriptor written through was opened before a check that found no taker, so a taker's seal
   * comes after it and orphans it; a pause between the check and the write lands the write there,
   * never in the live file. (Checked first, a pause inside `verify` could reopen the taker's copy.)
   */
  private async fenced<T>(what: Parameters<NonNullable<SessionHooks['beforeWrite']>>[0], logs: readonly HolderLog[], write: () => T): Promise<T> {
    const { paths, held, ctx } = this.deps;
    if (this.deps.signal?.aborted) throw lostReason(this.deps.signal, held.epoch);
    for (const l of logs) l.verify(held.epoch);
    const why = checkHeld(paths, held, ctx.now());
    if (why) throw errors.leaseLost(held.epoch, why);
    await this.deps.hooks?.beforeWrite?.(what);
    return write();
  }

  /**
   * Ends a round: pending outcomes made durable, a projection snapshot when the log after the last
   * one grew past its bound (or `final`: the process stops), the round record appended to the journal
   * (or a compacted journal written), and the checkpoint header. Nothing when nothing changed.
   */
  async endRound(opts: { final: boolean } = { final: false }): Promise<void> {
    await this.flush();
    const { paths, ctx, held } = this.deps;
    const s = this.s;
    const tail = tailBytes(s.cursor, s.snapshot);
    const snapshotDue = shouldSnapshot(tail, s.snapshotBytes, this.forceSnapshot || opts.final);
    if (!this.dirty && !snapshotDue) return;
    const ledgerEnd = this.ledger.end();
    if (snapshotDue) {
      const name = snapshotName(held.epoch, s.snapshotSeq++);
      const sections = s.projection.sections();
      s.snapshotBytes = await this.fenced('snapshot', [], () =>
        writeSnapshot(paths, name, { schema_version: 2, remote: s.projection.remote, created_at: ctx.now().toISOString(), epoch: held.epoch, log: s.cursor, ledger: ledgerEnd, sizes: sizesOf(sections) }, { ...sections }),
      );
      const previous = s.snapshot?.file;
      s.snapshot = { file: name, log: s.cursor, ledger: ledgerEnd };
      this.forceSnapshot = false;
      pruneSnapshots(paths, previous ? [name, previous] : [name]);
    }
    const round: Round = {
      epoch: held.epoch,
      at: ctx.now().toISOString(),
      log: s.cursor,
      ledger: ledgerEnd,
      rejected: { count: s.rejectedCount, position: this.rejectedLog.end() },
      counts: { ...s.counts },
      snapshot: s.snapshot,
      queue: { live: s.queue.length, waiting: s.projection.sizes.waiting, stacked: s.stack.length },
      ...(s.stackChecked ? { stack_checked: s.stackChecked } : {}),
    };
    if (shouldCompact(s.changeBytes, (s.queue.length + s.stack.length) * LINE_BYTES_PER_ITEM)) {
      await this.compact(round);
    } else {
      await this.appendJournal([{ t: 'round', epoch: held.epoch, round }], true);
    }
    await this.fenced('checkpoint', [this.journal], () =>
      writeJsonAtomic(paths.checkpoint, { schema_version: 2, updated_at: round.at, journal: { file: s.journalFile.name, size: this.journal.size }, round }, validators.checkpoint),
    );
    this.dirty = false;
  }

  /** Rewrites the journal as a base (the round, the live items and the stack) under the next name. */
  private async compact(round: Round): Promise<void> {
    const { paths, held } = this.deps;
    const next = journalFile(held.epoch, this.s.journalFile.epoch === held.epoch ? this.s.journalFile.seq + 1 : 0);
    const items = this.s.queue.list();
    // Every push is written by now (the round's flush came first): the base holds the whole stack.
    const log = await this.fenced('journal', [this.journal, this.ledger], () => writeJournal(paths, next, { t: 'base', epoch: held.epoch, at: round.at, items: items.length, round }, items, this.s.stack));
    this.journal.close();
    this.journal = log;
    this.s.journalFile = next;
    this.s.changeBytes = 0;
  }

  /** Closes the tenure's files; what it knew stays for the next tenure of this process (watch). */
  close(): SessionMemory {
    const memory: SessionMemory = {
      epoch: this.deps.held.epoch,
      journal: this.s.journalFile.name,
      journalSize: this.journal.size,
      state: { ...this.s },
    };
    this.journal.close();
    this.ledger.close();
    this.rejectedLog.close();
    return memory;
  }

  /** The finalize_ready at a log position (the projection keeps a head that no longer waits as a hash). */
  private readBack(position: number) {
    return eventAt(this.deps.paths.readiness, this.s.cursor, position);
  }

}

/** What the retry_ignored log line says, by why. */
const RETRY_IGNORED: Record<RetryIgnored, string> = {
  no_candidate: 'the slug has no candidate (no finalize_ready yet)',
  other_sha: "the sha is not the slug's current candidate's (a superseded candidate is never retried)",
  waiting: 'the candidate still waits for readiness events: it has not been decided',
  undecided: 'the candidate is not decided in its current episode yet (queued or in progress)',
  decided_after_request: 'the current episode was decided after the retry was requested: a retry applies to a decision made before it',
  unreadable: "the candidate's finalize_ready line can no longer be read (its log was rotated away)",
};

function isValidJson(bytes: Buffer, valid: (x: unknown) => boolean): boolean {
  try {
    return valid(JSON.parse(bytes.toString('utf8')));
  } catch {
    return false;
  }
}

function transitionRecord(item: QueueItem, t: QueueItem['transitions'][number] | undefined, epoch: number): JournalRecord {
  if (!t) throw errors.internal('recording a queue transition', `${item.slug} has no transition to record`);
  return { t: 'transition', epoch, slug: item.slug, branch: item.branch, sha: item.sha, transition: t };
}

const dropStackRecord = (d: StackDrop, at: string, epoch: number): JournalRecord => ({
  t: 'stack_drop',
  epoch,
  at,
  slug: d.entry.slug,
  branch: d.entry.branch,
  sha: d.entry.sha,
  episode: d.entry.episode,
  reason: d.reason,
  ...(d.main_sha ? { main_sha: d.main_sha } : {}),
});

const dropRecord = (item: QueueItem, now: Date, epoch: number): JournalRecord => ({
  t: 'drop',
  epoch,
  at: now.toISOString(),
  slug: item.slug,
  branch: item.branch,
  sha: item.sha,
  reason: 'its outcome is already in the ledger',
});

function initialRound(epoch: number, now: Date): Round {
  const nowhere = { head_len: 0, head_hash: '', offset: 0 };
  return { epoch, at: now.toISOString(), log: emptyCursor(), ledger: nowhere, rejected: { count: 0, position: nowhere }, counts: zeroCounts(), snapshot: null, queue: { live: 0, waiting: 0 } };
}

/** Log bytes after the snapshot: what a restart replays. */
function tailBytes(cursor: LogCursor, snapshot: SnapshotRef | null): number {
  if (!snapshot || snapshot.log.ino !== cursor.ino || snapshot.log.dev !== cursor.dev) return cursor.base + cursor.offset > 0 ? cursor.offset + 1 : 0;
  return cursor.offset - snapshot.log.offset;
}

function sizesOf(sections: ProjectionSections): Record<string, number> {
  return { slugs: sections.slugHi.length, waiting: sections.waitRefHi.length, arena: sections.arena.length };
}

function lostReason(signal: AbortSignal, epoch: number): Error {
  return isShadowError(signal.reason) ? signal.reason : errors.leaseLost(epoch, 'the tenure was stopped');
}

function assertHeld(deps: SessionDeps): void {
  const why = checkHeld(deps.paths, deps.held, deps.ctx.now());
  if (why) throw errors.leaseLost(deps.held.epoch, why);
}

async function fencedOpen(deps: SessionDeps, what: 'journal' | 'seal'): Promise<void> {
  assertHeld(deps);
  await deps.hooks?.beforeWrite?.(what);
}

/**
 * The projection and the queue as the journal's last round left them: its snapshot loaded (or an
 * empty projection), then the log from the snapshot to the round replayed without effects (the
 * queue already holds them).
 */
function loadState(deps: SessionDeps, j: JournalState, round: Round, file: JournalFile, log: (level: 'info' | 'warn', event: string, fields: Record<string, string | number>) => void): SessionState {
  const { paths, config } = deps;
  let projection = Projection.empty(config.remote);
  let snapshot: SnapshotRef | null = null;
  let snapshotBytes = 0;
  if (round.snapshot) {
    try {
      const loaded = readSnapshot(paths, round.snapshot.file);
      if (!loaded) log('warn', 'snapshot_missing', { file: round.snapshot.file, why: 'the projection is rebuilt from the log' });
      else if (loaded.header.remote !== config.remote) log('warn', 'snapshot_unusable', { file: round.snapshot.file, why: `it counts pushes to ${loaded.header.remote}, the config says ${config.remote}` });
      else {
        projection = Projection.restore(config.remote, sectionsFromBytes(loaded.sections));
        snapshot = round.snapshot;
        snapshotBytes = loaded.bytes;
      }
    } catch (e) {
      if (!isShadowError(e)) throw e;
      log('warn', 'snapshot_unusable', { file: round.snapshot.file, why: e.message });
    }
  }
  // Replay [snapshot, round) of the file the round points at, effects ignored (the journal has them).
  const from: LogCursor = snapshot ? snapshot.log : { ...emptyCursor(), dev: round.log.dev, ino: round.log.ino, base: round.log.base };
  if (round.log.offset > from.offset) {
    const reached = from.ino === round.log.ino && from.dev === round.log.dev ? replay(paths.readiness, from, round.log, projection) : -1;
    // Gone or changed: the round's cursor stays, so that the first read finds the log replaced and reads it again, with effects.
    if (reached !== round.log.offset) log('warn', 'replay_incomplete', { from: from.offset, to: round.log.offset, reached, why: 'the log the round points at is gone or was changed' });
  }
  return {
    projection,
    queue: new QueueState(j.items),
    stack: j.stack,
    stackChecked: round.stack_checked ?? null,
    cursor: round.log,
    counts: { ...round.counts },
    rejectedCount: round.rejected.count,
    snapshot,
    snapshotBytes,
    snapshotSeq: 0,
    journalFile: file,
    changeBytes: j.changeBytes,
  };
}
