/**
 * The queue's rules as plain functions over plain data: FIFO by ready_at then log position,
 * deduplicated by (slug, branch, sha), and an explicit transition table. Only live items are kept;
 * a terminal transition removes the item (its outcome lives in the ledger).
 */
import { errors } from '../contract/errors.js';
import type { OutcomeKind, QueueFile, QueueItem, QueueStatus } from '../contract/types.generated.js';
import type { Candidate, CandidateRef } from '../readiness/projection.js';

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
  /**
   * Items that left the queue but are still in `items`: removing from the middle of a long array on
   * every supersession would make ingestion quadratic, so removal is lazy and compaction amortized.
   */
  private readonly removed = new Set<QueueItem>();

  /** ready_at of each item in epoch ms, aligned with `items`: ordering must not re-parse dates. */
  private readyMs: number[];

  constructor(private items: QueueItem[] = []) {
    for (const it of items) this.bySlug.set(it.slug, it);
    this.readyMs = items.map((it) => Date.parse(it.ready_at));
  }

  static fromFile(file: QueueFile | null): QueueState {
    return new QueueState(file ? [...file.items] : []);
  }

  toFile(now: Date, epoch: number): QueueFile {
    return { schema_version: 1, updated_at: now.toISOString(), lease_epoch: epoch, items: this.list() as QueueItem[] };
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

  /** Adds the candidate in FIFO position; false when it is already live. */
  enqueue(c: Candidate, readyMs: number, at: string): boolean {
    const live = this.bySlug.get(c.slug);
    if (live) {
      if (live.branch === c.branch && live.sha === c.sha) return false;
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
      // Entering the queue is recorded by enqueued_at; transitions record what happens after.
      transitions: [],
    };
    // Candidates mostly arrive in order: search from the tail.
    let i = this.items.length;
    while (i > 0 && this.after(i - 1, readyMs, c.log_offset)) i--;
    this.items.splice(i, 0, item);
    this.readyMs.splice(i, 0, readyMs);
    this.bySlug.set(c.slug, item);
    return true;
  }

  private after(i: number, readyMs: number, logOffset: number): boolean {
    const ms = this.readyMs[i] as number;
    return ms > readyMs || (ms === readyMs && (this.items[i] as QueueItem).log_offset > logOffset);
  }

  /** The first queued item in FIFO order. */
  next(): QueueItem | undefined {
    return this.items.find((it) => it.status === 'queued' && !this.removed.has(it));
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

  /** Removes an item whose outcome is already in the ledger (recovery after a crash). */
  drop(c: CandidateRef): boolean {
    const item = this.get(c);
    if (!item) return false;
    this.remove(item);
    return true;
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
  }
}
