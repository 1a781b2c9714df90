/**
 * Canonical main's history in memory, from one `git log`: which main commit brought each commit in
 * (its "landing": the commit itself when it is on the first-parent chain, else the merge that
 * introduced it), trees and revert messages, all answered without another git call. Pure.
 */
import type { CommitInfo } from '../git/history.js';

const REVERTS = /This reverts commit ([0-9a-f]{40}(?:[0-9a-f]{24})?)/g;

export class MainHistory {
  /** First-parent chain from the root to the tip. */
  readonly chain: CommitInfo[];
  /** Every commit on main, with the chain index of the commit that brought it in. */
  private readonly landedAt = new Map<string, number>();
  private readonly commits = new Map<string, CommitInfo>();
  private readonly byTree = new Map<string, CommitInfo[]>();
  /** Commits whose message says they revert a given commit. */
  private readonly revertsOf = new Map<string, CommitInfo[]>();

  /** `log`: the commits reachable from `tip`, as `listCommits` returns them. */
  constructor(log: readonly CommitInfo[], tip: string) {
    for (const c of log) this.commits.set(c.sha, c);
    this.chain = [];
    for (let c = this.commits.get(tip); c; c = c.parents[0] === undefined ? undefined : this.commits.get(c.parents[0])) this.chain.push(c);
    this.chain.reverse();
    // Oldest chain commit first: everything an older one brought in is already marked, so each walk
    // marks exactly the commits its chain commit introduced, and the whole pass is linear.
    this.chain.forEach((top, i) => {
      const stack = [top];
      for (let c = stack.pop(); c; c = stack.pop()) {
        if (this.landedAt.has(c.sha)) continue;
        this.landedAt.set(c.sha, i);
        for (const p of c.parents) {
          const parent = this.commits.get(p);
          if (parent && !this.landedAt.has(p)) stack.push(parent);
        }
      }
    });
    for (const c of this.inLandingOrder()) {
      this.byTree.set(c.tree, [...(this.byTree.get(c.tree) ?? []), c]);
      for (const m of `${c.subject}\n${c.body}`.matchAll(REVERTS)) {
        const reverted = m[1] as string;
        this.revertsOf.set(reverted, [...(this.revertsOf.get(reverted) ?? []), c]);
      }
    }
  }

  has(sha: string): boolean {
    return this.landedAt.has(sha);
  }

  /** Chain index of the main commit that brought `sha` in. */
  position(sha: string): number | undefined {
    return this.landedAt.get(sha);
  }

  /** The chain commit that brought `sha` in: itself, or the merge that introduced it. */
  landingOf(sha: string): CommitInfo | undefined {
    const i = this.landedAt.get(sha);
    return i === undefined ? undefined : this.chain[i];
  }

  withTree(tree: string): readonly CommitInfo[] {
    return this.byTree.get(tree) ?? [];
  }

  revertsByMessage(sha: string): readonly CommitInfo[] {
    return this.revertsOf.get(sha) ?? [];
  }

  /** Every commit on main ordered by when it landed (chain index), from chain index `from` on. */
  inLandingOrder(from = 0): CommitInfo[] {
    return [...this.commits.values()]
      .filter((c) => (this.landedAt.get(c.sha) ?? -1) >= from)
      .sort((a, b) => (this.landedAt.get(a.sha) as number) - (this.landedAt.get(b.sha) as number));
  }
}
