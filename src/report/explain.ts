/**
 * `explain <slug>`: why each candidate of a slug is where it is. readiness.jsonl is re-read from the
 * start (explain is not a hot path) through the same line parser and dedup rule as ingestion, into a
 * per-slug trace that remembers which line satisfied each condition; the queue and the ledger add
 * what the holder did with it. Git conditions (4 and 6) are not re-run: they are shown as the engine
 * found them at dequeue.
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import {
  SLUG_PATTERN,
  type Approval,
  type CandidateState,
  type ConditionCheck,
  type Episode,
  type ExplainedCandidate,
  type ExplainReport,
  type Outcome,
  type SupersessionLink,
  type QueueItem,
  type ReasonCode,
  type RetryRef,
} from '../contract/types.generated.js';
import { readOutcomes } from '../ledger/ledger.js';
import { hash64, KeySet } from '../readiness/keyset.js';
import { MAX_LINE_BYTES, parseReadinessLine } from '../readiness/parse.js';
import { dedupKey } from '../readiness/projection.js';
import { emptyCursor, readLogTail } from '../store/jsonl.js';
import { statePaths } from '../store/paths.js';
import { readQueue } from '../store/readers.js';
import { SlugTrace, type CandidateId, type EventRef, type TracedCandidate } from './slug-trace.js';

export type { ConditionCheck, ExplainedCandidate, ExplainReport };

/** What a retry_requested did, as explain works it out from the log and the ledger (the projection's rule). */
type RetryResult = RetryRef['result'];

export function explain(loaded: LoadedConfig, _ctx: Context, slug: string): ExplainReport {
  if (!SLUG_PATTERN.test(slug)) throw errors.argumentInvalid('slug', slug, `a slug must match ${SLUG_PATTERN.source}`);
  const { remote } = loaded.config;
  const paths = statePaths(loaded.config.state_dir);
  const scan = scanSlug(paths.readiness, slug);
  const pushes = findPushes(paths.readiness, remote, scan.trace.candidates, scan.duplicatePushLines);
  const queueItems = readQueue(paths);
  const outcomes = readOutcomes(paths).outcomes.filter((o) => o.slug === slug);
  const at = queueItems.findIndex((it) => it.slug === slug);
  const queued = at === -1 ? null : { item: queueItems[at] as QueueItem, position: at + 1 };

  const ids = candidateIds(scan.trace, queued?.item, outcomes);
  if (ids.length === 0 && scan.trace.approvals.length === 0 && scan.trace.retries.length === 0 && scan.rejected.length === 0) {
    throw errors.slugUnknown(slug);
  }
  const retries = judgeRetries(scan.trace, pushes, outcomes, scan.duplicateRetries);
  const candidates = ids.map((id) => {
    const inQueue = queued && queued.item.branch === id.branch && queued.item.sha === id.sha ? queued : null;
    const own = outcomes.filter((o) => o.branch === id.branch && o.sha === id.sha);
    const started = retries.filter((r) => r.result === 'started_episode' && r.branch === id.branch && r.candidate_sha === id.sha);
    return explainCandidate(id, scan.trace.find(id) ?? null, scan.trace.approvals, pushes.get(refKey(id)), inQueue, own, started);
  });
  return {
    slug,
    remote,
    log: paths.readiness,
    log_lines: scan.lines,
    approvals: scan.trace.approvals,
    candidates,
    supersession: supersessionChain(scan.trace),
    retries,
    ignored: scan.ignored,
    rejected: scan.rejected,
  };
}

const refKey = (c: CandidateId) => `${c.branch}\0${c.sha}`;

interface SlugScan {
  trace: SlugTrace;
  lines: number;
  ignored: ExplainReport['ignored'];
  rejected: ExplainReport['rejected'];
  /** branch_pushed lines the projection ignores as duplicates (of any slug: a push names none). */
  duplicatePushLines: Set<number>;
  /** Lines of the slug's retries whose id an earlier event (not a retry) used. */
  duplicateRetries: Set<number>;
}

/** First pass: every line through the ingestion parser and the dedup rule; the slug's events traced. */
function scanSlug(log: string, slug: string): SlugScan {
  const trace = new SlugTrace(slug);
  const seen = new KeySet();
  const scan: SlugScan = { trace, lines: 0, ignored: [], rejected: [], duplicatePushLines: new Set(), duplicateRetries: new Set() };
  const quotedSlug = JSON.stringify(slug);
  const tail = readLogTail(
    log,
    emptyCursor(),
    ({ bytes, offset, line, tooLong }) => {
      const parsed = parseReadinessLine(bytes, offset, line, tooLong);
      if (parsed.ok === 'blank') return;
      if (!parsed.ok) {
        if (parsed.rejected.raw.includes(quotedSlug)) scan.rejected.push({ line, reason: parsed.rejected.reason, errors: parsed.rejected.errors });
        return;
      }
      const event = parsed.event;
      const ofSlug = event.type !== 'branch_pushed' && event.slug === slug;
      if (event.type === 'retry_requested') {
        // Judged one by one (judgeRetries): the projection keeps a retry's id only when it started an episode.
        if (!ofSlug) return;
        if (event.id !== undefined && seen.has(hash64(dedupKey(event)))) scan.duplicateRetries.add(line);
        trace.retry({ line, offset, id: event.id ?? null, at: event.requested_at }, event);
        return;
      }
      if (!seen.add(hash64(dedupKey(event)))) {
        if (event.type === 'branch_pushed') scan.duplicatePushLines.add(line);
        if (ofSlug) scan.ignored.push({ line, type: event.type, id: event.id ?? null, why: 'duplicate' });
        return;
      }
      if (!ofSlug) return;
      const ref: EventRef = { line, offset, id: event.id ?? null, at: event.type === 'review_approved' ? event.approved_at : event.ready_at };
      if (event.type === 'review_approved') trace.approve(ref, event.sha);
      else if (event.type === 'finalize_ready' && !trace.finalize(event, ref)) scan.ignored.push({ line, type: event.type, id: ref.id, why: 'already_finalized' });
    },
    { maxLine: MAX_LINE_BYTES },
  );
  scan.lines = tail.cursor.lines;
  return scan;
}

/**
 * Second pass: the first accepted branch_pushed on the configured remote for each candidate. Only
 * lines that contain one of the candidates' shas are parsed: this pass costs little more than a read,
 * and nothing is held for the pushes of other slugs.
 */
function findPushes(log: string, remote: string, candidates: readonly TracedCandidate[], duplicates: Set<number>): Map<string, EventRef> {
  const found = new Map<string, EventRef>();
  const wanted = new Set(candidates.map(refKey));
  const shas = [...new Set(candidates.map((c) => c.sha))].map((s) => Buffer.from(s));
  if (shas.length === 0) return found;
  readLogTail(
    log,
    emptyCursor(),
    ({ bytes, offset, line, tooLong }) => {
      if (duplicates.has(line) || !shas.some((s) => bytes.includes(s))) return;
      const parsed = parseReadinessLine(bytes, offset, line, tooLong);
      if (parsed.ok !== true || parsed.event.type !== 'branch_pushed' || parsed.event.remote !== remote) return;
      const key = refKey(parsed.event);
      if (wanted.has(key) && !found.has(key)) found.set(key, { line, offset, id: parsed.event.id ?? null, at: parsed.event.pushed_at });
    },
    { maxLine: MAX_LINE_BYTES },
  );
  return found;
}

/** The slug's candidates: those of the log in finalize order, then any only the queue or the ledger knows. */
function candidateIds(trace: SlugTrace, queued: QueueItem | undefined, outcomes: readonly Outcome[]): CandidateId[] {
  const ids: CandidateId[] = trace.candidates.map((c) => ({ branch: c.branch, sha: c.sha }));
  for (const c of [...(queued ? [queued] : []), ...outcomes]) {
    if (!ids.some((x) => x.branch === c.branch && x.sha === c.sha)) ids.push({ branch: c.branch, sha: c.sha });
  }
  return ids;
}

/** The approval that counts for a candidate sha: the first of the slug, or of exactly this sha. */
const approvalFor = (approvals: readonly Approval[], sha: string) => approvals.find((a) => a.sha === null || a.sha === sha);

/** Why no approval counts for this sha: the slug's approvals name other shas (or there are none). */
function noApproval(approvals: readonly Approval[], sha: string): string | undefined {
  const other = approvals.filter((a) => a.sha !== null && a.sha !== sha);
  if (other.length === 0) return undefined;
  const named = other.map((a) => `line ${a.line} names sha ${(a.sha as string).slice(0, 12)}…`).join('; ');
  return `the slug's approvals are bound to other shas (${named}), not this candidate's ${sha.slice(0, 12)}…: a later push needs its own approval`;
}

/** The line from which a candidate's event conditions all held (null: not all yet). */
function readyLineOf(traced: TracedCandidate | null, approval: Approval | undefined, push: EventRef | undefined): number | null {
  return approval && traced && push ? Math.max(approval.line, traced.finalize.line, push.line) : null;
}

/**
 * What each retry of the slug did, by the projection's rule (readiness/projection.ts), from the log
 * and the ledger: a retry starts an episode of the slug's current candidate only when that candidate
 * was decided in its current episode before the retry was requested.
 */
function judgeRetries(trace: SlugTrace, pushes: Map<string, EventRef>, outcomes: readonly Outcome[], duplicates: Set<number>): RetryRef[] {
  const started = new Map<string, number>();
  const usedIds = new Set<string>();
  return trace.retries.map(({ ref, event }): RetryRef => {
    const base = { line: ref.line, id: ref.id, requested_at: event.requested_at, requested_by: event.requested_by, sha: event.sha ?? null };
    const judged = (result: RetryResult, head?: TracedCandidate, episode?: number): RetryRef => ({ ...base, result, ...(head ? { branch: head.branch, candidate_sha: head.sha } : {}), ...(episode ? { episode } : {}) });
    const head = trace.headBefore(ref.line);
    if (!head) return judged('no_candidate');
    if (event.sha !== undefined && event.sha !== head.sha) return judged('other_sha', head);
    const readyLine = readyLineOf(head, approvalFor(trace.approvals, head.sha), pushes.get(refKey(head)));
    if (readyLine === null || readyLine > ref.line) return judged('waiting', head);
    const key = refKey(head);
    const episode = (started.get(key) ?? 1);
    const decision = outcomes.find((o) => o.branch === head.branch && o.sha === head.sha && (o.episode ?? 1) === episode);
    if (!decision) return judged('undecided', head, episode);
    if (Date.parse(decision.decided_at) >= Date.parse(event.requested_at)) return judged('decided_after_request', head, episode);
    if (duplicates.has(ref.line) || (ref.id !== null && usedIds.has(ref.id))) return judged('duplicate', head, episode);
    if (ref.id !== null) usedIds.add(ref.id);
    started.set(key, episode + 1);
    return judged('started_episode', head, episode + 1);
  });
}

function explainCandidate(
  id: CandidateId,
  traced: TracedCandidate | null,
  approvals: readonly Approval[],
  push: EventRef | undefined,
  queued: { item: QueueItem; position: number } | null,
  outcomes: Outcome[],
  retries: readonly RetryRef[],
): ExplainedCandidate {
  const approval = approvalFor(approvals, id.sha);
  const why = approval ? undefined : noApproval(approvals, id.sha);
  const approvalRef = approval && { line: approval.line, offset: approval.offset, id: approval.id, at: approval.at };
  const eventConditions: ConditionCheck[] = [
    approvalRef ? { condition: 'review_approved', met: true, event: approvalRef } : { condition: 'review_approved', met: false, missing: 'missing_review_approved', ...(why ? { why } : {}) },
    traced ? { condition: 'finalize_ready', met: true, event: traced.finalize } : { condition: 'finalize_ready', met: false, missing: 'missing_finalize_ready' },
    push ? { condition: 'branch_pushed', met: true, event: push } : { condition: 'branch_pushed', met: false, missing: 'missing_branch_pushed' },
  ];
  const sup = traced?.superseded;
  const notSuperseded: ConditionCheck = sup
    ? { condition: 'not_superseded', met: false, missing: 'superseded', superseded_by: { branch: sup.by.branch, sha: sup.by.sha, line: sup.by.finalize.line, rule: sup.rule } }
    : { condition: 'not_superseded', met: true };
  // Ready at the last of the three events, if the candidate was still the slug's newest then.
  const lastEvent = readyLineOf(traced, approval, push);
  const ready_line = lastEvent !== null && (!sup || lastEvent < sup.at_line) ? lastEvent : null;
  const episodes = episodesOf(ready_line !== null || outcomes.length > 0 || queued !== null, retries, outcomes, queued?.item);
  const latest = episodes.at(-1);
  const state: CandidateState =
    queued ? queued.item.status
    : latest && latest.outcome === null && outcomes.length > 0 ? 'ready'
    : outcomes.length > 0 ? 'decided'
    : sup ? 'superseded'
    : ready_line !== null ? 'ready'
    : 'waiting';
  return {
    branch: id.branch,
    sha: id.sha,
    ready_at: traced?.ready_at ?? queued?.item.ready_at ?? outcomes[0]?.ready_at ?? null,
    finalize: traced?.finalize ?? null,
    state,
    ready_line,
    conditions: [...eventConditions, notSuperseded, ...gitConditions(outcomes.filter((o) => o.outcome !== 'superseded').at(-1))],
    queue: queued ? { position: queued.position, status: queued.item.status, enqueued_at: queued.item.enqueued_at, transitions: queued.item.transitions } : null,
    outcomes,
    episodes,
  };
}

/** Episode 1 (once enqueued), then one per retry that started one, and any the ledger or the queue knows beyond (a log replaced since). */
function episodesOf(enqueued: boolean, retries: readonly RetryRef[], outcomes: readonly Outcome[], queued: QueueItem | undefined): Episode[] {
  if (!enqueued) return [];
  const last = Math.max(1, ...retries.map((r) => r.episode ?? 1), ...outcomes.map((o) => o.episode ?? 1), queued?.episode ?? 1);
  return Array.from({ length: last }, (_, i): Episode => {
    const episode = i + 1;
    return {
      episode,
      retry_line: retries.find((r) => r.episode === episode)?.line ?? null,
      outcome: outcomes.find((o) => (o.episode ?? 1) === episode)?.outcome ?? null,
    };
  });
}

/** Conditions 4 and 6 as the engine found them in the latest evaluation; null where it did not get that far. */
function gitConditions(o: Outcome | undefined): ConditionCheck[] {
  const has = (r: ReasonCode) => o?.reasons.includes(r) ?? false;
  // The engine reaches these only after both git conditions held (merge_conflict: after the ancestor check).
  const passedBoth = o !== undefined && (o.outcome === 'would_integrate' || has('merge_conflict') || has('checks_failed'));
  const at = o ? { decided_at: o.decided_at } : {};
  const onRemote: ConditionCheck = has('sha_not_on_remote_branch')
    ? { condition: 'sha_on_remote_branch', met: false, missing: 'sha_not_on_remote_branch', ...at }
    : { condition: 'sha_on_remote_branch', met: passedBoth || has('already_integrated') ? true : null, ...at };
  const notIntegrated: ConditionCheck = has('already_integrated')
    ? { condition: 'not_already_integrated', met: false, missing: 'already_integrated', ...at }
    : { condition: 'not_already_integrated', met: passedBoth ? true : null, ...at };
  return [onRemote, notIntegrated];
}

function supersessionChain(trace: SlugTrace): SupersessionLink[] {
  const links: SupersessionLink[] = [];
  for (const c of trace.candidates) {
    if (!c.superseded) continue;
    const by = trace.find(c.superseded.by) as TracedCandidate;
    links.push({
      superseded: { branch: c.branch, sha: c.sha, line: c.finalize.line, ready_at: c.ready_at },
      by: { branch: by.branch, sha: by.sha, line: by.finalize.line, ready_at: by.ready_at },
      rule: c.superseded.rule,
      at_line: c.superseded.at_line,
    });
  }
  return links.sort((a, b) => a.at_line - b.at_line);
}
