/**
 * The readiness projection of one slug, with provenance: the same rules as readiness/projection.ts
 * (first event wins, a repeated finalize_ready of a candidate changes nothing, supersession by later
 * ready_at, equal ready_at won by the later line), but it remembers which line decided what, for
 * `explain`. Pure.
 */
import type { Approval, EventRef, FinalizeReady, RetryRequested, SupersessionRule } from '../contract/types.generated.js';

export type { EventRef };


export interface CandidateId {
  branch: string;
  sha: string;
}

export interface TracedCandidate extends CandidateId {
  ready_at: string;
  finalize: EventRef;
  superseded: Supersession | null;
}

export interface Supersession {
  /** The winner: the slug's newest finalize_ready when this one was superseded. */
  by: CandidateId & { finalize: EventRef };
  rule: SupersessionRule;
  /** Line from which the candidate was superseded (its own line for one that arrived older). */
  at_line: number;
}

/** A retry_requested of the slug, where it is. */
export interface TracedRetry {
  ref: EventRef;
  event: RetryRequested;
}

export class SlugTrace {
  readonly approvals: Approval[] = [];
  readonly retries: TracedRetry[] = [];
  readonly candidates: TracedCandidate[] = [];
  private head: { candidate: TracedCandidate; readyMs: number } | null = null;

  constructor(readonly slug: string) {}

  approve(ref: EventRef, sha: string | undefined): void {
    this.approvals.push({ ...ref, sha: sha ?? null });
  }

  retry(ref: EventRef, event: RetryRequested): void {
    this.retries.push({ ref, event });
  }

  /** The slug's head just before `line`: the newest candidate finalized before it, unless superseded by then. */
  headBefore(line: number): TracedCandidate | undefined {
    return this.candidates.find((c) => c.finalize.line < line && (!c.superseded || c.superseded.at_line > line));
  }

  /** Returns false when the candidate was finalized before: the projection ignores the repeat. */
  finalize(event: FinalizeReady, ref: EventRef): boolean {
    if (this.find(event)) return false;
    const candidate: TracedCandidate = { branch: event.branch, sha: event.sha, ready_at: event.ready_at, finalize: ref, superseded: null };
    this.candidates.push(candidate);
    const readyMs = Date.parse(event.ready_at);
    const head = this.head;
    if (head && readyMs < head.readyMs) {
      candidate.superseded = { by: winner(head.candidate), rule: 'arrived_older', at_line: ref.line };
      return true;
    }
    if (head) {
      const rule = readyMs > head.readyMs ? 'later_ready_at' : 'equal_ready_at_later_in_log';
      head.candidate.superseded = { by: winner(candidate), rule, at_line: ref.line };
    }
    this.head = { candidate, readyMs };
    return true;
  }

  find(c: CandidateId): TracedCandidate | undefined {
    return this.candidates.find((x) => x.branch === c.branch && x.sha === c.sha);
  }
}

const winner = (c: TracedCandidate) => ({ branch: c.branch, sha: c.sha, finalize: c.finalize });
