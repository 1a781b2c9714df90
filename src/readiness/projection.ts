/**
 * The readiness projection: which event conditions (1–3 and 5 of the contract) hold for each
 * candidate. Pure and incremental: applying one event touches a constant number of map entries,
 * whatever the number of candidates. Only the newest finalize_ready of each slug (its "head") is kept
 * in full; superseded candidates are final, so a hashed record that they existed is enough.
 */
import type { ProjectionSnapshot, ReadinessEvent } from '../contract/types.generated.js';
import { KeySet } from './keyset.js';

export interface Candidate {
  slug: string;
  branch: string;
  sha: string;
  ready_at: string;
  /** Byte offset of the candidate's finalize_ready line: the FIFO tie-break. */
  log_offset: number;
}

export type Effect =
  /** The event conditions went from not met to met: enqueue (unless decided or already queued). */
  | { kind: 'ready'; candidate: Candidate }
  /** A newer finalize_ready of the same slug replaced this head. */
  | { kind: 'superseded'; candidate: Candidate; by: Candidate; wasReady: boolean }
  /** The finalize_ready arrived already older than the slug's head: superseded at once, never enqueued. */
  | { kind: 'stale'; candidate: Candidate; by: Candidate };

export type ApplyResult = { duplicate: true } | { duplicate: false; effects: Effect[] };

interface Head extends Candidate {
  ready_ms: number;
  state: 'waiting' | 'ready';
}

export const candidateKey = (c: { slug: string; branch: string; sha: string }) => `${c.slug}\0${c.branch}\0${c.sha}`;
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

  apply(event: ReadinessEvent, offset: number): ApplyResult {
    if (!this.seen.add(dedupKey(event))) return { duplicate: true };
    switch (event.type) {
      case 'review_approved':
        return { duplicate: false, effects: this.onApproved(event.slug) };
      case 'branch_pushed':
        return { duplicate: false, effects: event.remote === this.remote ? this.onPushed(event.branch, event.sha) : [] };
      case 'finalize_ready':
        return { duplicate: false, effects: this.onFinalized({ slug: event.slug, branch: event.branch, sha: event.sha, ready_at: event.ready_at, log_offset: offset }) };
    }
  }

  private onApproved(slug: string): Effect[] {
    if (!this.approved.add(slug)) return [];
    const head = this.heads.get(slug);
    return head ? this.promote(head) : [];
  }

  private onPushed(branch: string, sha: string): Effect[] {
    const key = refKey(branch, sha);
    if (!this.pushed.add(key)) return [];
    const slugs = this.waitingForPush.get(key);
    if (!slugs) return [];
    this.waitingForPush.delete(key);
    const effects: Effect[] = [];
    for (const slug of slugs) {
      const head = this.heads.get(slug);
      if (head && head.branch === branch && head.sha === sha) effects.push(...this.promote(head));
    }
    return effects;
  }

  private onFinalized(candidate: Candidate): Effect[] {
    if (!this.finalized.add(candidateKey(candidate))) return [];
    const ready_ms = Date.parse(candidate.ready_at);
    const current = this.heads.get(candidate.slug);
    // Equal ready_at: the one later in the log wins, and the event being applied is the later one.
    if (current && ready_ms < current.ready_ms) return [{ kind: 'stale', candidate, by: toCandidate(current) }];
    const head: Head = { ...candidate, ready_ms, state: 'waiting' };
    this.heads.set(candidate.slug, head);
    const effects: Effect[] = [];
    if (current) {
      this.forgetWaiting(current);
      effects.push({ kind: 'superseded', candidate: toCandidate(current), by: candidate, wasReady: current.state === 'ready' });
    }
    effects.push(...this.promote(head));
    return effects;
  }

  /** Moves a head to ready when all event conditions hold. */
  private promote(head: Head): Effect[] {
    if (head.state === 'ready' || !this.approved.has(head.slug)) return [];
    const key = refKey(head.branch, head.sha);
    if (!this.pushed.has(key)) {
      let slugs = this.waitingForPush.get(key);
      if (!slugs) this.waitingForPush.set(key, (slugs = new Set()));
      slugs.add(head.slug);
      return [];
    }
    head.state = 'ready';
    return [{ kind: 'ready', candidate: toCandidate(head) }];
  }

  private forgetWaiting(head: Head): void {
    const key = refKey(head.branch, head.sha);
    const slugs = this.waitingForPush.get(key);
    if (slugs?.delete(head.slug) && slugs.size === 0) this.waitingForPush.delete(key);
  }

  markDecided(c: { slug: string; branch: string; sha: string }): void {
    this.decided.add(candidateKey(c));
  }

  isDecided(c: { slug: string; branch: string; sha: string }): boolean {
    return this.decided.has(candidateKey(c));
  }

  /** Event conditions of a candidate as they stand, for the re-check at dequeue. */
  conditions(c: { slug: string; branch: string; sha: string }): { review_approved: boolean; finalize_ready: boolean; branch_pushed: boolean; superseded_by: Candidate | null } {
    const head = this.heads.get(c.slug);
    const isHead = head !== undefined && head.branch === c.branch && head.sha === c.sha;
    return {
      review_approved: this.approved.has(c.slug),
      finalize_ready: this.finalized.has(candidateKey(c)),
      branch_pushed: this.pushed.has(refKey(c.branch, c.sha)),
      superseded_by: !isHead && head && this.finalized.has(candidateKey(c)) ? toCandidate(head) : null,
    };
  }

  snapshot(): ProjectionSnapshot {
    const heads: ProjectionSnapshot['heads'] = { slug: [], branch: [], sha: [], ready_at: [], log_offset: [], state: [] };
    for (const h of this.heads.values()) {
      heads.slug.push(h.slug);
      heads.branch.push(h.branch);
      heads.sha.push(h.sha);
      heads.ready_at.push(h.ready_at);
      heads.log_offset.push(h.log_offset);
      heads.state.push(h.state);
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
      const head: Head = {
        slug: heads.slug[i] as string,
        branch: heads.branch[i] as string,
        sha: heads.sha[i] as string,
        ready_at: heads.ready_at[i] as string,
        log_offset: heads.log_offset[i] as number,
        ready_ms: Date.parse(heads.ready_at[i] as string),
        state: heads.state[i] as Head['state'],
      };
      p.heads.set(head.slug, head);
      if (head.state === 'waiting' && p.approved.has(head.slug) && !p.pushed.has(refKey(head.branch, head.sha))) p.promote(head);
    }
    return p;
  }
}

const toCandidate = (h: Candidate): Candidate => ({ slug: h.slug, branch: h.branch, sha: h.sha, ready_at: h.ready_at, log_offset: h.log_offset });

/** The producer's id when it gave one, else the event's canonical content (keys sorted). */
export function dedupKey(event: ReadinessEvent): string {
  if (event.id !== undefined) return `id:${event.id}`;
  const sorted = Object.keys(event).sort();
  return `c:${JSON.stringify(event, sorted)}`;
}
