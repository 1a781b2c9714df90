/**
 * The stack's rules that need no git, as plain functions over plain data (base: queue). The stack is
 * live state like the queue: the candidates decided would_integrate that live main does not contain
 * yet, in decision order; later candidates are merged onto main plus them (src/engine/stack.ts).
 * The git engine finds the entries main took, whose branch is gone, or that no longer merge; these
 * rules cover the rest: supersession, the window, the config, and rebuilding from the ledger.
 */
import type { Outcome, StackDropReason, StackEntry } from '../contract/types.generated.js';
import { stackKey } from '../store/journal.js';

export interface StackDrop {
  entry: StackEntry;
  reason: StackDropReason;
  /** Live main when git found it leaving. */
  main_sha?: string;
  /** For people (the log line). */
  why: string;
}

/** The stack entry of a would_integrate decision. */
export const entryOf = (o: Pick<Outcome, 'slug' | 'branch' | 'sha' | 'episode' | 'decided_at' | 'main_sha'>): StackEntry => ({
  slug: o.slug,
  branch: o.branch,
  sha: o.sha,
  episode: o.episode ?? 1,
  decided_at: o.decided_at,
  main_sha: o.main_sha,
});

/** Whether a decision joins the stack: would_integrate, evaluated with base: queue. */
export const joinsStack = (o: Pick<Outcome, 'outcome' | 'base'>): boolean => o.outcome === 'would_integrate' && o.base === 'queue';

/**
 * The entry of `slug` that a readiness change takes out of the stack: a newer candidate of the slug
 * (or a new readiness episode of it) was enqueued, or a newer finalize_ready superseded it (`except`:
 * the candidate that supersedes, which is not the entry). Supersession is final: the owner of main
 * would now merge the newer one, not stack the older.
 */
export function supersededEntry(stack: readonly StackEntry[], slug: string, except?: { branch: string; sha: string }): StackDrop | null {
  const entry = stack.find((e) => e.slug === slug);
  if (!entry || (except && entry.branch === except.branch && entry.sha === except.sha)) return null;
  return { entry, reason: 'superseded', why: except ? `superseded by ${except.branch}@${except.sha}` : 'a newer candidate or readiness episode of its slug was enqueued' };
}

/** Entries older than the window: the live integrator may never take them, and they must not block others forever. */
export function expiredEntries(stack: readonly StackEntry[], now: Date, windowSeconds: number): StackDrop[] {
  const limit = now.getTime() - windowSeconds * 1000;
  return stack
    .filter((e) => Date.parse(e.decided_at) < limit)
    .map((entry) => ({ entry, reason: 'window', why: `decided ${entry.decided_at}, more than stack_window_seconds (${windowSeconds}) ago, and live main has not taken it` }));
}

/** With base: tip nothing is stacked: whatever a queue-based run left leaves. */
export const droppedForTip = (stack: readonly StackEntry[]): StackDrop[] => stack.map((entry) => ({ entry, reason: 'base_tip', why: 'the config says base: tip, which keeps no stack' }));

/**
 * What the ledger after the last round says about the stack that the journal does not (a crash
 * between a decision's ledger line and its stack record, or a journal lost): each would_integrate
 * decision (base: queue) the journal never named joins the stack, and any decision of a slug takes
 * out that slug's older entry (a newer candidate or episode of it was enqueued before it was
 * decided). The ledger is the authority. Fed one outcome at a time (a lost journal means the whole
 * ledger): only entries still inside the window are kept, one per slug.
 */
export class StackRepair {
  /** The stack being rebuilt, by slug, in decision order (a Map keeps insertion order). */
  private readonly next = new Map<string, StackEntry>();

  constructor(
    private readonly journal: readonly StackEntry[],
    /** Entries the journal named after the round: it knows what their decisions did. */
    private readonly seen: ReadonlySet<string>,
    /** Decisions before this time (ms) are past the window: they would leave at once. */
    private readonly oldestMs: number,
  ) {
    for (const e of journal) this.next.set(e.slug, e);
  }

  apply(o: Outcome): void {
    const entry = entryOf(o);
    const key = stackKey(entry);
    if (this.seen.has(key)) return;
    const held = this.next.get(o.slug);
    if (held && stackKey(held) === key) return;
    this.next.delete(o.slug);
    if (joinsStack(o) && Date.parse(o.decided_at) >= this.oldestMs) this.next.set(o.slug, entry);
  }

  /** The stack, and what changed against the journal's: its records to write. */
  result(): { stack: StackEntry[]; push: StackEntry[]; drop: StackDrop[] } {
    const stack = [...this.next.values()];
    const kept = new Set(stack.map(stackKey));
    const had = new Set(this.journal.map(stackKey));
    return {
      stack,
      push: stack.filter((e) => !had.has(stackKey(e))),
      drop: this.journal.filter((e) => !kept.has(stackKey(e))).map((entry) => ({ entry, reason: 'superseded', why: 'the ledger holds a later decision of its slug' })),
    };
  }
}
