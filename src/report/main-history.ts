/**
 * What parity needs to know of canonical main's history, answered without another git call: which
 * main commit brought each commit in (its "landing": the commit itself when it is on the first-parent
 * chain, else the merge that introduced it), the trees main reached, and which commits revert which
 * by their message. Pure.
 *
 * Built from a log of main, and extended with the log of the commits main gained since (`git log
 * <old tip>..<new tip>`): every commit the new log does not hold was already reachable from the old
 * tip, so it landed where it landed before, and the commits that the new chain commits bring in are
 * exactly the new ones. Only the little each commit needs is kept — no message, no side commit's
 * tree — so that a history read back from the cache stays small (see parity-cache.ts).
 */
import type { CommitInfo } from '../git/history.js';

const REVERTS = /This reverts commit ([0-9a-f]{40}(?:[0-9a-f]{24})?)/g;

/** A commit on main's first-parent chain. */
export interface ChainCommit {
  sha: string;
  parents: string[];
  tree: string;
}

/** What one chain commit brought in besides itself, in the order the landing walk met them. */
export interface Brought {
  /** Commits with at most one parent (the ones a patch id can be asked of). */
  commits: string[];
  merges: string[];
}

/** A commit of a log as far as the history keeps it until it has landed. */
interface Walked {
  parents: string[];
  tree: string;
  /** The commits its message says it reverts. */
  reverts: string[];
}

/** The new part of main's log, collected for `extend`: one entry per commit, no message kept. */
export class NewCommits {
  readonly commits = new Map<string, Walked>();

  add(c: CommitInfo): void {
    const reverts = [...`${c.subject}\n${c.body}`.matchAll(REVERTS)].map((m) => m[1] as string);
    this.commits.set(c.sha, { parents: c.parents, tree: c.tree, reverts });
  }
}

export class MainHistory {
  /** First-parent chain from the root to the tip. */
  private readonly chain: ChainCommit[] = [];
  /** By chain index: what that chain commit brought in besides itself. */
  private readonly brought: Brought[] = [];
  /** Every commit on main, with the chain index of the commit that brought it in. */
  private readonly landedAt = new Map<string, number>();
  /** Chain indexes by tree: where main reached each tree. */
  private readonly byTree = new Map<string, number[]>();
  /** Commits whose message says they revert a given commit, in landing order. */
  private readonly revertsOf = new Map<string, string[]>();

  /** A history as a cache kept it (`parts` from `parts()`); null when the parts do not make one. */
  static restore(parts: { chain: readonly (ChainCommit & Brought)[]; reverts: Readonly<Record<string, readonly string[] | undefined>> }): MainHistory | null {
    const history = new MainHistory();
    for (const [i, c] of parts.chain.entries()) {
      const previous = history.chain[i - 1];
      // A first-parent chain: each commit's first parent is the one before it, the root has none.
      if (c.parents[0] !== previous?.sha || history.landedAt.has(c.sha)) return null;
      history.append({ sha: c.sha, parents: c.parents, tree: c.tree }, { commits: c.commits, merges: c.merges });
    }
    for (const [reverted, by = []] of Object.entries(parts.reverts)) {
      if (by.some((sha) => !history.landedAt.has(sha))) return null;
      history.revertsOf.set(reverted, [...by]);
    }
    return history;
  }

  /** The tip this history reached; null for the empty history. */
  get tip(): string | null {
    return this.chain.at(-1)?.sha ?? null;
  }

  /**
   * Extends this history with `log`, the commits reachable from `tip` and not from this history's tip
   * (all of them for the empty history). False, and nothing changed, when main's first-parent chain
   * from `tip` does not run through this history's tip: main was rewritten (or moved back), and only
   * a history built from scratch is right.
   */
  extend(log: NewCommits, tip: string): boolean {
    if (tip === this.tip) return true;
    const added: string[] = [];
    let at: string | undefined = tip;
    for (let c = log.commits.get(tip); c; c = at === undefined ? undefined : log.commits.get(at)) {
      added.push(at as string);
      at = c.parents[0];
    }
    if (added.length === 0 || at !== (this.tip ?? undefined)) return false;
    // Oldest new chain commit first: each walk marks exactly the commits its chain commit introduced
    // (everything older is marked already), so the whole pass is linear in the new commits.
    for (const top of added.reverse()) {
      const index = this.chain.length;
      const brought: Brought = { commits: [], merges: [] };
      const stack = [top];
      for (let sha = stack.pop(); sha !== undefined; sha = stack.pop()) {
        const c = log.commits.get(sha);
        if (!c || this.landedAt.has(sha)) continue;
        this.landedAt.set(sha, index);
        if (sha !== top) (c.parents.length > 1 ? brought.merges : brought.commits).push(sha);
        for (const p of c.parents) if (!this.landedAt.has(p) && log.commits.has(p)) stack.push(p);
        for (const reverted of c.reverts) this.revertsOf.set(reverted, [...(this.revertsOf.get(reverted) ?? []), sha]);
      }
      const c = log.commits.get(top) as Walked;
      this.append({ sha: top, parents: c.parents, tree: c.tree }, brought);
    }
    return true;
  }

  /** What a cache keeps to `restore` this history. */
  parts(): { tip: string | null; chain: (ChainCommit & Brought)[]; reverts: Record<string, string[]> } {
    return {
      tip: this.tip,
      chain: this.chain.map((c, i) => ({ ...c, ...(this.brought[i] as Brought) })),
      reverts: Object.fromEntries(this.revertsOf),
    };
  }

  has(sha: string): boolean {
    return this.landedAt.has(sha);
  }

  /** Chain index of the main commit that brought `sha` in. */
  position(sha: string): number | undefined {
    return this.landedAt.get(sha);
  }

  /** The chain commit that brought `sha` in: itself, or the merge that introduced it. */
  landingOf(sha: string): ChainCommit | undefined {
    const i = this.landedAt.get(sha);
    return i === undefined ? undefined : this.chain[i];
  }

  /** The chain commit `sha`, if it is one. */
  onChain(sha: string): ChainCommit | undefined {
    const c = this.landingOf(sha);
    return c?.sha === sha ? c : undefined;
  }

  /** The chain commits whose tree is `tree`: main reached it there. */
  withTree(tree: string): string[] {
    return (this.byTree.get(tree) ?? []).map((i) => (this.chain[i] as ChainCommit).sha);
  }

  revertsByMessage(sha: string): readonly string[] {
    return this.revertsOf.get(sha) ?? [];
  }

  /** The commits with at most one parent that landed at chain index `from` or later, in landing order. */
  singleParentFrom(from: number): string[] {
    const out: string[] = [];
    for (let i = Math.max(0, from); i < this.chain.length; i++) {
      const c = this.chain[i] as ChainCommit;
      if (c.parents.length <= 1) out.push(c.sha);
      out.push(...(this.brought[i] as Brought).commits);
    }
    return out;
  }

  private append(c: ChainCommit, brought: Brought): void {
    const i = this.chain.length;
    this.chain.push(c);
    this.brought.push(brought);
    this.landedAt.set(c.sha, i);
    for (const sha of brought.commits) this.landedAt.set(sha, i);
    for (const sha of brought.merges) this.landedAt.set(sha, i);
    const at = this.byTree.get(c.tree);
    if (at) at.push(i);
    else this.byTree.set(c.tree, [i]);
  }
}
