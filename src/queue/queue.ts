/**
 * The queue's rules as plain functions over plain data: FIFO by ready_at then log position,
 * deduplicated by (slug, branch, sha), and an explicit transition table. Only live items are kept;
 * a terminal transition removes the item (its outcome lives in the ledger).
 */
import type { OutcomeKind, QueueFile, QueueItem, QueueStatus } from '../contract/types.generated.js';
import { candidateKey, type Candidate } from '../readiness/projection.js';

export type ItemState = QueueStatus | OutcomeKind;

/** Which status may follow which; anything else is a bug and throws. */
export const TRANSITIONS: Readonly<Record<QueueStatus, readonly ItemState[]>> = {
  queued: ['in_progress', 'superseded'],
  in_progress: ['queued', 'would_integrate', 'would_block', 'superseded'],
};

export class QueueState {
  private readonly byKey = new Map<string, QueueItem>();

  constructor(private items: QueueItem[] = []) {
    for (const it of items) this.byKey.set(candidateKey(it), it);
  }

  static fromFile(file: QueueFile | null): QueueState {
    return new QueueState(file ? [...file.items] : []);
  }

  toFile(now: Date, epoch: number): QueueFile {
    return { schema_version: 1, updated_at: now.toISOString(), lease_epoch: epoch, items: this.items };
  }

  get length(): number {
    return this.items.length;
  }

  list(): readonly QueueItem[] {
    return this.items;
  }

  get(c: { slug: string; branch: string; sha: string }): QueueItem | undefined {
    return this.byKey.get(candidateKey(c));
  }

  /** Adds the candidate in FIFO position; false when it is already live. */
  enqueue(c: Candidate, now: Date, epoch: number): boolean {
    const key = candidateKey(c);
    if (this.byKey.has(key)) return false;
    const at = now.toISOString();
    const item: QueueItem = {
      slug: c.slug,
      branch: c.branch,
      sha: c.sha,
      status: 'queued',
      ready_at: c.ready_at,
      log_offset: c.log_offset,
      enqueued_at: at,
      transitions: [{ at, to: 'queued', reason: 'event conditions met', epoch }],
    };
    // Candidates mostly arrive in order: search from the tail.
    let i = this.items.length;
    while (i > 0 && compare(this.items[i - 1] as QueueItem, item) > 0) i--;
    this.items.splice(i, 0, item);
    this.byKey.set(key, item);
    return true;
  }

  /** The first queued item in FIFO order. */
  next(): QueueItem | undefined {
    return this.items.find((it) => it.status === 'queued');
  }

  transition(c: { slug: string; branch: string; sha: string }, to: ItemState, reason: string, now: Date, epoch: number): QueueItem {
    const key = candidateKey(c);
    const item = this.byKey.get(key);
    if (!item) throw new Error(`internal: ${key.replace(/\0/g, ' ')} is not in the queue`);
    if (!TRANSITIONS[item.status].includes(to)) throw new Error(`internal: illegal queue transition ${item.status} → ${to}`);
    item.transitions.push({ at: now.toISOString(), from: item.status, to, reason, epoch });
    if (to === 'queued' || to === 'in_progress') item.status = to;
    else {
      this.byKey.delete(key);
      this.items = this.items.filter((it) => it !== item);
    }
    return item;
  }

  /** Removes an item whose outcome is already in the ledger (recovery after a crash). */
  drop(c: { slug: string; branch: string; sha: string }): boolean {
    const key = candidateKey(c);
    const item = this.byKey.get(key);
    if (!item) return false;
    this.byKey.delete(key);
    this.items = this.items.filter((it) => it !== item);
    return true;
  }
}

function compare(a: QueueItem, b: QueueItem): number {
  const d = Date.parse(a.ready_at) - Date.parse(b.ready_at);
  return d !== 0 ? d : a.log_offset - b.log_offset;
}
