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
import { SLUG_PATTERN, type Outcome, type QueueItem, type ReadinessEvent, type ReasonCode, type RejectedLine } from '../contract/types.generated.js';
import { readOutcomes } from '../ledger/ledger.js';
import { hash64, KeySet } from '../readiness/keyset.js';
import { MAX_LINE_BYTES, parseReadinessLine } from '../readiness/parse.js';
import { dedupKey } from '../readiness/projection.js';
import { emptyCursor, readLogTail } from '../store/jsonl.js';
import { statePaths } from '../store/paths.js';
import { readQueue } from '../store/readers.js';
import { SlugTrace, type CandidateId, type EventRef, type SupersessionRule, type TracedCandidate } from './slug-trace.js';

export type ConditionName = 'review_approved' | 'finalize_ready' | 'branch_pushed' | 'not_superseded' | 'sha_on_remote_branch' | 'not_already_integrated';

export interface ConditionCheck {
  condition: ConditionName;
  /** null: a git condition not checked yet (that happens at dequeue) or not reached by the engine. */
  met: boolean | null;
  /** The event that satisfied it. */
  event?: EventRef;
  /** The reason code that names it when it is not met. */
  missing?: ReasonCode;
  superseded_by?: CandidateId & { line: number; rule: SupersessionRule };
  /** For git conditions: when the decision they come from was made. */
  decided_at?: string;
}

export type CandidateState = 'waiting' | 'ready' | 'queued' | 'in_progress' | 'decided' | 'superseded';

export interface ExplainedCandidate extends CandidateId {
  ready_at: string | null;
  /** Its finalize_ready; null when only the queue or the ledger knows it (the log was replaced). */
  finalize: EventRef | null;
  /**
   * waiting: event conditions not all met · ready: all met, not ingested by a holder yet · queued /
   * in_progress: in the queue · decided: has an outcome · superseded: superseded before it was ready.
   */
  state: CandidateState;
  /** Line at which its event conditions were all met while it was the slug's newest: it was enqueued then. */
  ready_line: number | null;
  conditions: ConditionCheck[];
  queue: { position: number; status: QueueItem['status']; enqueued_at: string; transitions: QueueItem['transitions'] } | null;
  outcomes: Outcome[];
}

export interface SupersessionLink {
  superseded: CandidateId & { line: number; ready_at: string };
  by: CandidateId & { line: number; ready_at: string };
  rule: SupersessionRule;
  /** The line from which it holds: the winner's, or the loser's own for one that arrived older. */
  at_line: number;
}

export interface ExplainReport {
  slug: string;
  remote: string;
  log: string;
  log_lines: number;
  approvals: EventRef[];
  candidates: ExplainedCandidate[];
  /** Who superseded whom, in log order. Rule: later ready_at wins; equal ready_at: the later line wins. */
  supersession: SupersessionLink[];
  /** Lines of this slug the projection ignores: a duplicate (id or content seen before), or a candidate finalized again. */
  ignored: { line: number; type: ReadinessEvent['type']; id: string | null; why: 'duplicate' | 'already_finalized' }[];
  /** Quarantined lines whose text names the slug. */
  rejected: Pick<RejectedLine, 'line' | 'reason' | 'errors'>[];
}

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
  if (ids.length === 0 && scan.trace.approvals.length === 0 && scan.rejected.length === 0) {
    throw errors.slugUnknown(slug);
  }
  const candidates = ids.map((id) => {
    const inQueue = queued && queued.item.branch === id.branch && queued.item.sha === id.sha ? queued : null;
    const own = outcomes.filter((o) => o.branch === id.branch && o.sha === id.sha);
    return explainCandidate(id, scan.trace.find(id) ?? null, scan.trace.approvals[0], pushes.get(refKey(id)), inQueue, own);
  });
  return {
    slug,
    remote,
    log: paths.readiness,
    log_lines: scan.lines,
    approvals: scan.trace.approvals,
    candidates,
    supersession: supersessionChain(scan.trace),
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
}

/** First pass: every line through the ingestion parser and the dedup rule; the slug's events traced. */
function scanSlug(log: string, slug: string): SlugScan {
  const trace = new SlugTrace(slug);
  const seen = new KeySet();
  const scan: SlugScan = { trace, lines: 0, ignored: [], rejected: [], duplicatePushLines: new Set() };
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
      if (!seen.add(hash64(dedupKey(event)))) {
        if (event.type === 'branch_pushed') scan.duplicatePushLines.add(line);
        if (ofSlug) scan.ignored.push({ line, type: event.type, id: event.id ?? null, why: 'duplicate' });
        return;
      }
      if (!ofSlug || event.type === 'retry_requested') return;
      const ref: EventRef = { line, offset, id: event.id ?? null, at: event.type === 'review_approved' ? event.approved_at : event.ready_at };
      if (event.type === 'review_approved') trace.approve(ref);
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

function explainCandidate(
  id: CandidateId,
  traced: TracedCandidate | null,
  approval: EventRef | undefined,
  push: EventRef | undefined,
  queued: { item: QueueItem; position: number } | null,
  outcomes: Outcome[],
): ExplainedCandidate {
  const eventConditions: ConditionCheck[] = [
    approval ? { condition: 'review_approved', met: true, event: approval } : { condition: 'review_approved', met: false, missing: 'missing_review_approved' },
    traced ? { condition: 'finalize_ready', met: true, event: traced.finalize } : { condition: 'finalize_ready', met: false, missing: 'missing_finalize_ready' },
    push ? { condition: 'branch_pushed', met: true, event: push } : { condition: 'branch_pushed', met: false, missing: 'missing_branch_pushed' },
  ];
  const sup = traced?.superseded;
  const notSuperseded: ConditionCheck = sup
    ? { condition: 'not_superseded', met: false, missing: 'superseded', superseded_by: { branch: sup.by.branch, sha: sup.by.sha, line: sup.by.finalize.line, rule: sup.rule } }
    : { condition: 'not_superseded', met: true };
  // Ready at the last of the three events, if the candidate was still the slug's newest then.
  const lastEvent = approval && traced && push ? Math.max(approval.line, traced.finalize.line, push.line) : null;
  const ready_line = lastEvent !== null && (!sup || lastEvent < sup.at_line) ? lastEvent : null;
  const state: CandidateState =
    outcomes.length > 0 ? 'decided'
    : queued ? queued.item.status
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
  };
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
