/**
 * `explain <slug>`: why each candidate of a slug is where it is. Re-reads the whole readiness log
 * (explain is not a hot path) and states every condition with the event that met it, or names the
 * one missing with its reason code; the supersession chain; queue position; the outcome(s).
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { BranchPushed, FinalizeReady, Outcome, ReasonCode, ReviewApproved } from '../contract/types.generated.js';
import { readOutcomes } from '../ledger/ledger.js';
import { MAX_LINE_BYTES, parseReadinessLine } from '../readiness/parse.js';
import { readQueue } from '../runtime/session.js';
import { emptyCursor, tailLines } from '../store/jsonl.js';
import { statePaths } from '../store/paths.js';

export interface EventRef {
  line: number;
  id: string | null;
  at: string;
}

export interface ConditionState {
  met: boolean;
  /** The reason code when it is not met. */
  missing: ReasonCode | null;
  event: EventRef | null;
}

export interface CandidateExplanation {
  branch: string;
  sha: string;
  ready_at: string;
  conditions: { review_approved: ConditionState; finalize_ready: ConditionState; branch_pushed: ConditionState };
  superseded_by: { branch: string; sha: string; ready_at: string } | null;
  queue: { position: number; status: string } | null;
  outcomes: Pick<Outcome, 'outcome' | 'reasons' | 'conflicts' | 'decided_at' | 'lease_epoch' | 'main_sha' | 'message'>[];
}

export interface Explanation {
  slug: string;
  candidates: CandidateExplanation[];
  /** Oldest to newest by the contract's rule: later ready_at wins, equal ready_at the later line wins. */
  supersession_chain: { branch: string; sha: string; ready_at: string }[];
}

type Seen<T> = T & { line: number };

export function explain(loaded: LoadedConfig, _ctx: Context, slug: string): Explanation {
  const paths = statePaths(loaded.config.state_dir);
  const approvals: Seen<ReviewApproved>[] = [];
  const finalizes: Seen<FinalizeReady>[] = [];
  const pushes: Seen<BranchPushed>[] = [];
  tailLines(
    paths.readiness,
    emptyCursor(),
    (bytes, offset, line, tooLong) => {
      const parsed = parseReadinessLine(bytes, offset, line, tooLong);
      if (!parsed.ok) return;
      const e = parsed.event;
      if (e.type === 'review_approved' && e.slug === slug) approvals.push({ ...e, line });
      else if (e.type === 'finalize_ready' && e.slug === slug) finalizes.push({ ...e, line });
      else if (e.type === 'branch_pushed' && e.remote === loaded.config.remote) pushes.push({ ...e, line });
    },
    { maxLine: MAX_LINE_BYTES },
  );

  // One candidate per (branch, sha): its first finalize_ready counts, as in the projection.
  const candidates = new Map<string, Seen<FinalizeReady>>();
  for (const f of finalizes) if (!candidates.has(`${f.branch}\0${f.sha}`)) candidates.set(`${f.branch}\0${f.sha}`, f);
  const chain = [...candidates.values()].sort((a, b) => Date.parse(a.ready_at) - Date.parse(b.ready_at) || a.line - b.line);
  const head = chain.at(-1);
  const queue = readQueue(paths).list();
  const ledger = readOutcomes(paths.outcomes).outcomes.filter((o) => o.slug === slug);
  const approval = approvals[0];

  return {
    slug,
    supersession_chain: chain.map((c) => ({ branch: c.branch, sha: c.sha, ready_at: c.ready_at })),
    candidates: chain.map((f) => {
      const push = pushes.find((p) => p.branch === f.branch && p.sha === f.sha);
      const position = queue.findIndex((q) => q.slug === slug && q.branch === f.branch && q.sha === f.sha);
      const next = f === head ? undefined : chain[chain.indexOf(f) + 1];
      return {
        branch: f.branch,
        sha: f.sha,
        ready_at: f.ready_at,
        conditions: {
          review_approved: condition(approval ? { line: approval.line, id: approval.id ?? null, at: approval.approved_at } : null, 'missing_review_approved'),
          finalize_ready: condition({ line: f.line, id: f.id ?? null, at: f.ready_at }, 'missing_finalize_ready'),
          branch_pushed: condition(push ? { line: push.line, id: push.id ?? null, at: push.pushed_at } : null, 'missing_branch_pushed'),
        },
        superseded_by: next ? { branch: next.branch, sha: next.sha, ready_at: next.ready_at } : null,
        queue: position >= 0 ? { position: position + 1, status: queue[position]?.status ?? 'queued' } : null,
        outcomes: ledger
          .filter((o) => o.branch === f.branch && o.sha === f.sha)
          .map((o) => ({ outcome: o.outcome, reasons: o.reasons, conflicts: o.conflicts, decided_at: o.decided_at, lease_epoch: o.lease_epoch, main_sha: o.main_sha, ...(o.message ? { message: o.message } : {}) })),
      };
    }),
  };
}

const condition = (event: EventRef | null, missing: ReasonCode): ConditionState => ({ met: event !== null, missing: event ? null : missing, event });
