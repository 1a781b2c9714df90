/**
 * The queue's rules as plain functions over plain data: FIFO by ready_at then log position,
 * deduplicated by (slug, branch, sha), and an explicit transition table. Only live items are kept;
 * a terminal transition removes the item (its outcome lives in the ledger). Persisted by the runtime
 * as journal records (store/journal.ts); next() is amortized O(1), so decisions per second do not
 * fall as the queue grows.
 */
import { errors } from '../contract/errors.js';
import type { OutcomeKind, QueueItem, QueueStatus } from '../contract/types.generated.js';
import type { Candidate, CandidateRef } from '../readiness/projection.js';
import { fifoBefore } from '../store/journal.js';

export type ItemState = QueueStatus | OutcomeKind;

/** Which status may follow which; anything else is a bug and throws. */
export const TRANSITIONS: Readonly<Record<QueueStatus, readonly ItemState[]>> = {
  queued: ['in_progress', 'superseded'],
  in_progress: ['queued', 'would_integrate', 'would_block', 'superseded'],
};

/**
 * Live items by slug: a slug has at most one live item, because a newer finalize_ready of the slug
 * supersedes (removes) the old one before the new one can be enqueued.
 */
export class QueueState {
  private readonly bySlug = new Map<string, QueueItem>();
  /** Items in FIFO order; removed ones stay until compaction (removing from the middle of a long array on every decision would be quadratic). */
  private items: QueueItem[] = [];
  /** ready_at of each item in epoch ms, aligned with `items`: ordering must not re-parse dates. */
  private readyMs: number[] = [];
  private readonly removed = new Set<QueueItem>();
  /** Every item before this index is removed: next() starts here. */
  private head = 0;

  /** Items in any order (a journal replay gives them in FIFO order already). */
  constructor(items: readonly QueueItem[] = []) {
    for (const it of items) this.insert(it, Date.parse(it.ready_at));
  }

  get length(): number {
    return this.bySlug.size;
  }

  list(): readonly QueueItem[] {
    this.compact();
    return this.items;
  }

  get(c: CandidateRef): QueueItem | undefined {
    const item = this.bySlug.get(c.slug);
    return item && item.branch === c.branch && item.sha === c.sha ? item : undefined;
  }

  /** The live item of a slug, whichever candidate it is. */
  ofSlug(slug: string): QueueItem | undefined {
    return this.bySlug.get(slug);
  }

  /** Adds the candidate (in its readiness episode) in FIFO position; null when it is already live. */
  enqueue(c: Candidate, readyMs: number, at: string, episode = 1): QueueItem | null {
    const live = this.bySlug.get(c.slug);
    if (live) {
      if (live.branch === c.branch && live.sha === c.sha) return null;
      throw errors.internal('enqueuing', `${c.slug} already has a live item ${live.branch}@${live.sha}`);
    }
    const item: QueueItem = {
      slug: c.slug,
      branch: c.branch,
      sha: c.sha,
      status: 'queued',
      ready_at: c.ready_at,
      log_offset: c.log_offset,
      enqueued_at: at,
      episode,
      // Entering the queue is recorded by enqueued_at; transitions record what happens after.
      transitions: [],
    };
    this.insert(item, readyMs);
    return item;
  }

  private insert(item: QueueItem, readyMs: number): void {
    if (this.bySlug.has(item.slug)) throw errors.internal('enqueuing', `${item.slug} already has a live item`);
    // Candidates mostly arrive in order: search from the tail.
    let i = this.items.length;
    while (i > this.head && fifoBefore(readyMs, item.log_offset, this.readyMs[i - 1] as number, (this.items[i - 1] as QueueItem).log_offset)) i--;
    this.items.splice(i, 0, item);
    this.readyMs.splice(i, 0, readyMs);
    this.bySlug.set(item.slug, item);
  }

  /** The first queued item in FIFO order. */
  next(): QueueItem | undefined {
    while (this.head < this.items.length && this.removed.has(this.items[this.head] as QueueItem)) this.head += 1;
    for (let i = this.head; i < this.items.length; i++) {
      const it = this.items[i] as QueueItem;
      if (it.status === 'queued' && !this.removed.has(it)) return it;
    }
    return undefined;
  }

  /** The first `limit` queued items in FIFO order: what comes after the item being evaluated. */
  upcoming(limit: number): QueueItem[] {
    const out: QueueItem[] = [];
    for (let i = this.head; i < this.items.length && out.length < limit; i++) {
      const it = this.items[i] as QueueItem;
      if (it.status === 'queued' && !this.removed.has(it)) out.push(it);
    }
    return out;
  }

  transition(c: CandidateRef, to: ItemState, reason: string, now: Date, epoch: number): QueueItem {
    const item = this.get(c);
    if (!item) throw errors.internal('moving a queue item', `${c.slug} ${c.branch}@${c.sha} is not in the queue`);
    if (!TRANSITIONS[item.status].includes(to)) throw errors.internal('moving a queue item', `illegal queue transition ${item.status} → ${to}`);
    item.transitions.push({ at: now.toISOString(), from: item.status, to, reason, epoch });
    if (to === 'queued' || to === 'in_progress') item.status = to;
    else this.remove(item);
    return item;
  }

  /** Removes an item whose outcome is already in the ledger (the ledger is the authority). */
  drop(c: CandidateRef): QueueItem | undefined {
    const item = this.get(c);
    if (item) this.remove(item);
    return item;
  }

  private remove(item: QueueItem): void {
    this.bySlug.delete(item.slug);
    this.removed.add(item);
    if (this.removed.size > 64 && this.removed.size * 2 > this.items.length) this.compact();
  }

  private compact(): void {
    if (this.removed.size === 0) return;
    const keep = this.items.map((it) => !this.removed.has(it));
    this.items = this.items.filter((_, i) => keep[i]);
    this.readyMs = this.readyMs.filter((_, i) => keep[i]);
    this.removed.clear();
    this.head = 0;
  }
}
