/**
 * The readiness projection: which event conditions (1–3 and 5 of the contract) hold for each
 * candidate. Pure and incremental: applying one event touches a constant number of map entries,
 * whatever the number of candidates. Per slug only its newest finalize_ready (its "head") is kept,
 * and compactly: superseded candidates are final, so a hashed record that they existed is enough.
 */
import type { CandidateRef, ProjectionSnapshot, ReadinessEvent } from '../contract/types.generated.js';
import { KeySet } from './keyset.js';

export interface Candidate {
  slug: string;
  branch: string;
  sha: string;
  ready_at: string;
  /** Byte offset of the candidate's finalize_ready line: the FIFO tie-break. */
  log_offset: number;
}

export type { CandidateRef };

export type Effect =
  /** The event conditions went from not met to met: enqueue (unless decided or already queued). */
  | { kind: 'ready'; candidate: Candidate; ready_ms: number }
  /** A newer finalize_ready replaced the slug's head: a queued candidate of the slug leaves the queue. */
  | { kind: 'superseded'; candidate: CandidateRef; by: Candidate; wasReady: boolean }
  /** The finalize_ready arrived already older than the slug's head: superseded at once, never enqueued. */
  | { kind: 'stale'; candidate: Candidate; by: CandidateRef };

/** A slug's newest finalize_ready. `ready_at` is kept only while it waits for its conditions. */
interface Head {
  branch: string;
  sha: string;
  ready_ms: number;
  log_offset: number;
  ready_at: string | null;
}

export const candidateKey = (c: CandidateRef) => `${c.slug}\0${c.branch}\0${c.sha}`;
const refKey = (branch: string, sha: string) => `${branch}\0${sha}`;

export class Projection {
  private readonly heads = new Map<string, Head>();
  /** Waiting heads whose branch_pushed has not arrived, by (branch, sha): a push touches only these. */
  private readonly waitingForPush = new Map<string, Set<string>>();

  private constructor(
    readonly remote: string,
    private readonly seen: KeySet,
    private readonly approved: KeySet,
    private readonly pushed: KeySet,
    private readonly finalized: KeySet,
    private readonly decided: KeySet,
  ) {}

  static empty(remote: string): Projection {
    return new Projection(remote, new KeySet(), new KeySet(), new KeySet(), new KeySet(), new KeySet());
  }

  get size(): { events: number; heads: number } {
    return { events: this.seen.size, heads: this.heads.size };
  }

  /**
   * Applies one event, pushing what it caused onto `effects` (a sink rather than a returned array:
   * this runs for every line of the log). Returns false when the event was seen before.
   */
  apply(event: ReadinessEvent, offset: number, effects: Effect[]): boolean {
    if (!this.seen.add(dedupKey(event))) return false;
    switch (event.type) {
      case 'review_approved':
        this.onApproved(event.slug, effects);
        break;
      case 'branch_pushed':
        if (event.remote === this.remote) this.onPushed(event.branch, event.sha, effects);
        break;
      case 'finalize_ready':
        this.onFinalized({ slug: event.slug, branch: event.branch, sha: event.sha, ready_at: event.ready_at, log_offset: offset }, effects);
        break;
    }
    return true;
  }

  private onApproved(slug: string, effects: Effect[]): void {
    if (!this.approved.add(slug)) return;
    const head = this.heads.get(slug);
    if (head) this.promote(slug, head, effects);
  }

  private onPushed(branch: string, sha: string, effects: Effect[]): void {
    const key = refKey(branch, sha);
    if (!this.pushed.add(key)) return;
    const slugs = this.waitingForPush.get(key);
    if (!slugs) return;
    this.waitingForPush.delete(key);
    for (const slug of slugs) {
      const head = this.heads.get(slug);
      if (head && head.branch === branch && head.sha === sha) this.promote(slug, head, effects);
    }
  }

  private onFinalized(candidate: Candidate, effects: Effect[]): void {
    if (!this.finalized.add(candidateKey(candidate))) return;
    const ready_ms = Date.parse(candidate.ready_at);
    const { slug } = candidate;
    const current = this.heads.get(slug);
    // Equal ready_at: the one later in the log wins, and the event being applied is the later one.
    if (current && ready_ms < current.ready_ms) {
      effects.push({ kind: 'stale', candidate, by: { slug, branch: current.branch, sha: current.sha } });
      return;
    }
    const head: Head = { branch: candidate.branch, sha: candidate.sha, ready_ms, log_offset: candidate.log_offset, ready_at: candidate.ready_at };
    this.heads.set(slug, head);
    if (current) {
      this.forgetWaiting(slug, current);
      effects.push({ kind: 'superseded', candidate: { slug, branch: current.branch, sha: current.sha }, by: candidate, wasReady: current.ready_at === null });
    }
    this.promote(slug, head, effects);
  }

  /** Moves a waiting head to ready when all event conditions hold. */
  private promote(slug: string, head: Head, effects: Effect[] | null): void {
    if (head.ready_at === null || !this.approved.has(slug)) return;
    const key = refKey(head.branch, head.sha);
    if (!this.pushed.has(key)) {
      let slugs = this.waitingForPush.get(key);
      if (!slugs) this.waitingForPush.set(key, (slugs = new Set()));
      slugs.add(slug);
      return;
    }
    const candidate: Candidate = { slug, branch: head.branch, sha: head.sha, ready_at: head.ready_at, log_offset: head.log_offset };
    head.ready_at = null;
    effects?.push({ kind: 'ready', candidate, ready_ms: head.ready_ms });
  }

  private forgetWaiting(slug: string, head: Head): void {
    const key = refKey(head.branch, head.sha);
    const slugs = this.waitingForPush.get(key);
    if (slugs?.delete(slug) && slugs.size === 0) this.waitingForPush.delete(key);
  }

  markDecided(c: CandidateRef): void {
    this.decided.add(candidateKey(c));
  }

  isDecided(c: CandidateRef): boolean {
    return this.decided.has(candidateKey(c));
  }

  /** Event conditions of a candidate as they stand, for the re-check at dequeue. */
  conditions(c: CandidateRef): { review_approved: boolean; finalize_ready: boolean; branch_pushed: boolean; superseded_by: CandidateRef | null } {
    const head = this.heads.get(c.slug);
    const finalized = this.finalized.has(candidateKey(c));
    const isHead = head !== undefined && head.branch === c.branch && head.sha === c.sha;
    return {
      review_approved: this.approved.has(c.slug),
      finalize_ready: finalized,
      branch_pushed: this.pushed.has(refKey(c.branch, c.sha)),
      superseded_by: finalized && head && !isHead ? { slug: c.slug, branch: head.branch, sha: head.sha } : null,
    };
  }

  snapshot(): ProjectionSnapshot {
    const heads: ProjectionSnapshot['heads'] = { slug: [], branch: [], sha: [], ready_ms: [], log_offset: [], ready_at: [] };
    for (const [slug, h] of this.heads) {
      heads.slug.push(slug);
      heads.branch.push(h.branch);
      heads.sha.push(h.sha);
      heads.ready_ms.push(h.ready_ms);
      heads.log_offset.push(h.log_offset);
      heads.ready_at.push(h.ready_at);
    }
    return {
      seen: this.seen.toBase64(),
      approved: this.approved.toBase64(),
      pushed: this.pushed.toBase64(),
      finalized: this.finalized.toBase64(),
      decided: this.decided.toBase64(),
      heads,
    };
  }

  static restore(remote: string, s: ProjectionSnapshot): Projection {
    const p = new Projection(
      remote,
      KeySet.fromBase64(s.seen),
      KeySet.fromBase64(s.approved),
      KeySet.fromBase64(s.pushed),
      KeySet.fromBase64(s.finalized),
      KeySet.fromBase64(s.decided),
    );
    const { heads } = s;
    for (let i = 0; i < heads.slug.length; i++) {
      const slug = heads.slug[i] as string;
      const head: Head = {
        branch: heads.branch[i] as string,
        sha: heads.sha[i] as string,
        ready_ms: heads.ready_ms[i] as number,
        log_offset: heads.log_offset[i] as number,
        ready_at: heads.ready_at[i] ?? null,
      };
      p.heads.set(slug, head);
      // A waiting head that only lacks its push must be found again when the push arrives.
      if (head.ready_at !== null && p.approved.has(slug)) p.promote(slug, head, null);
    }
    return p;
  }
}

/** The producer's id when it gave one, else the event's canonical content (keys sorted). */
export function dedupKey(event: ReadinessEvent): string {
  if (event.id !== undefined) return `id:${event.id}`;
  return `c:${JSON.stringify(event, Object.keys(event).sort())}`;
}
