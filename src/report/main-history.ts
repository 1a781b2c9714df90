/**
 * What parity needs to know of canonical main's history, answered without another git call: which
 * main commit brought each commit in (its "landing": the commit itself when it is on the first-parent
 * chain, else the merge that introduced it), the trees main reached, and which commits revert which
 * by their message. Pure.
 *
 * Built from a log of main, and extended with the log of the commits main gained since (`git log
 * <old tip>..<new tip>`): every commit the new log does not hold was already reachable from the old
 * tip, so it landed where it landed before, and the commits the new chain commits bring in are
 * exactly the new ones. Only the little each commit needs is kept — no message, no side commit's
 * parents or tree — as strings of concatenated object ids, the form the cache keeps them in
 * (parity-cache.ts): reading git.git's 80,000 commits back is a few strings and one map.
 */
import type { ParityCacheHistory, ParityCacheIdLists } from '../contract/types.generated.js';
import type { CommitInfo } from '../git/history.js';

const REVERTS = /This reverts commit ([0-9a-f]{40}(?:[0-9a-f]{24})?)/g;

/** A commit on main's first-parent chain. */
export interface ChainCommit {
  sha: string;
  parents: string[];
  tree: string;
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

/** One list of object ids per chain index, as one string of concatenated ids and the lists' lengths. */
class IdLists {
  private readonly counts: number[] = [];
  /** Where each list starts, in ids; one more entry than lists. */
  private readonly starts: number[] = [0];

  constructor(
    private ids = '',
    counts: readonly number[] = [],
  ) {
    for (const n of counts) this.push(n);
  }

  /** Whether the lists are `size` lists of ids of `length` digits. */
  holds(size: number, length: number): boolean {
    return this.counts.length === size && (this.starts.at(-1) as number) * length === this.ids.length;
  }

  list(i: number, length: number): string[] {
    const out: string[] = [];
    for (let k = this.starts[i] as number; k < (this.starts[i + 1] as number); k++) out.push(this.ids.slice(k * length, (k + 1) * length));
    return out;
  }

  /** Each id with the index of its list, in order. */
  forEach(length: number, fn: (id: string, i: number) => void): void {
    for (let i = 0; i < this.counts.length; i++) {
      for (let k = this.starts[i] as number; k < (this.starts[i + 1] as number); k++) fn(this.ids.slice(k * length, (k + 1) * length), i);
    }
  }

  append(lists: readonly string[][]): void {
    this.ids += lists.map((l) => l.join('')).join('');
    for (const l of lists) this.push(l.length);
  }

  cached(): ParityCacheIdLists {
    return { ids: this.ids, counts: this.counts };
  }

  private push(n: number): void {
    this.counts.push(n);
    this.starts.push((this.starts.at(-1) as number) + n);
  }
}

export class MainHistory {
  /** Hex digits of an object id: 40, or 64 in a SHA-256 repository (known from the first commit). */
  private idLength = 0;
  /** First-parent chain from the root to the tip, concatenated ids. */
  private chain = '';
  /** Each chain commit's tree, concatenated. */
  private trees = '';
  /**
   * By chain index: its parents other than the chain commit before it (all of them for the first);
   * the commits with at most one parent it brought in; the merges it brought in.
   */
  private readonly otherParents: IdLists;
  private readonly brought: IdLists;
  private readonly broughtMerges: IdLists;
  /** Every commit on main, with the chain index of the commit that brought it in. */
  private readonly landedAt = new Map<string, number>();
  /** Commits whose message says they revert a given commit, in landing order. */
  private readonly revertsOf = new Map<string, string[]>();
  /** Chain indexes by tree, made when first asked. */
  private treeIndex: Map<string, number[]> | null = null;

  private constructor(cached?: ParityCacheHistory) {
    this.otherParents = new IdLists(cached?.other_parents.ids, cached?.other_parents.counts);
    this.brought = new IdLists(cached?.brought.ids, cached?.brought.counts);
    this.broughtMerges = new IdLists(cached?.brought_merges.ids, cached?.brought_merges.counts);
  }

  /** The history of no commit yet, to be extended with a whole log. */
  static empty(): MainHistory {
    return new MainHistory();
  }

  /** The history a cache kept; null when it does not hold together (then it is built again). */
  static restore(cached: ParityCacheHistory): MainHistory | null {
    const h = new MainHistory(cached);
    const length = cached.tip.length;
    const size = cached.chain.length / length;
    if (!Number.isInteger(size) || size === 0 || cached.trees.length !== cached.chain.length || !cached.chain.endsWith(cached.tip)) return null;
    if (![h.otherParents, h.brought, h.broughtMerges].every((l) => l.holds(size, length))) return null;
    h.idLength = length;
    h.chain = cached.chain;
    h.trees = cached.trees;
    let unique = true;
    const land = (sha: string, i: number) => {
      // Every commit is in one place only.
      unique &&= !h.landedAt.has(sha);
      h.landedAt.set(sha, i);
    };
    for (let i = 0; i < size; i++) land(h.sha(i), i);
    h.brought.forEach(length, land);
    h.broughtMerges.forEach(length, land);
    if (!unique) return null;
    for (const [reverted, by = []] of Object.entries(cached.reverts)) {
      if (by.length === 0 || by.some((sha) => !h.landedAt.has(sha))) return null;
      h.revertsOf.set(reverted, [...by]);
    }
    return h;
  }

  /** Chain commits. */
  get size(): number {
    return this.idLength === 0 ? 0 : this.chain.length / this.idLength;
  }

  /** The tip this history reached; null for the empty history. */
  get tip(): string | null {
    return this.size === 0 ? null : this.sha(this.size - 1);
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
    // From nothing, the chain ends at a root commit, or where the repository's history ends (shallow).
    if (added.length === 0 || (this.size > 0 && at !== this.tip)) return false;
    this.idLength = tip.length;
    const segment = { trees: [] as string[], otherParents: [] as string[][], brought: [] as string[][], merges: [] as string[][] };
    // Oldest new chain commit first: each walk marks exactly the commits its chain commit introduced
    // (everything older is marked already), so the whole pass is linear in the new commits.
    for (const [k, top] of added.reverse().entries()) {
      const index = this.size + k;
      const brought: string[] = [];
      const merges: string[] = [];
      const stack = [top];
      for (let sha = stack.pop(); sha !== undefined; sha = stack.pop()) {
        const c = log.commits.get(sha);
        if (!c || this.landedAt.has(sha)) continue;
        this.landedAt.set(sha, index);
        if (sha !== top) (c.parents.length > 1 ? merges : brought).push(sha);
        for (const p of c.parents) if (!this.landedAt.has(p) && log.commits.has(p)) stack.push(p);
        for (const reverted of c.reverts) this.revertsOf.set(reverted, [...(this.revertsOf.get(reverted) ?? []), sha]);
      }
      const c = log.commits.get(top) as Walked;
      segment.trees.push(c.tree);
      segment.otherParents.push(index === 0 ? c.parents : c.parents.slice(1));
      segment.brought.push(brought);
      segment.merges.push(merges);
    }
    this.chain += added.join('');
    this.trees += segment.trees.join('');
    this.otherParents.append(segment.otherParents);
    this.brought.append(segment.brought);
    this.broughtMerges.append(segment.merges);
    this.treeIndex = null;
    return true;
  }

  /** What the cache keeps of this history (null for the empty history). */
  cached(): ParityCacheHistory | null {
    const tip = this.tip;
    if (tip === null) return null;
    return {
      tip,
      chain: this.chain,
      trees: this.trees,
      other_parents: this.otherParents.cached(),
      brought: this.brought.cached(),
      brought_merges: this.broughtMerges.cached(),
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
    return i === undefined ? undefined : this.chainCommit(i);
  }

  /** The chain commit `sha`, if it is one. */
  onChain(sha: string): ChainCommit | undefined {
    const c = this.landingOf(sha);
    return c?.sha === sha ? c : undefined;
  }

  /** The chain commits whose tree is `tree`: main reached it there. */
  withTree(tree: string): string[] {
    if (this.treeIndex === null) {
      this.treeIndex = new Map();
      for (let i = 0; i < this.size; i++) {
        const t = this.trees.slice(i * this.idLength, (i + 1) * this.idLength);
        const at = this.treeIndex.get(t);
        if (at) at.push(i);
        else this.treeIndex.set(t, [i]);
      }
    }
    return (this.treeIndex.get(tree) ?? []).map((i) => this.sha(i));
  }

  revertsByMessage(sha: string): readonly string[] {
    return this.revertsOf.get(sha) ?? [];
  }

  /** The commits with at most one parent that landed at chain index `from` or later, in landing order. */
  singleParentFrom(from: number): string[] {
    const out: string[] = [];
    for (let i = Math.max(0, from); i < this.size; i++) {
      if (this.parents(i).length <= 1) out.push(this.sha(i));
      out.push(...this.brought.list(i, this.idLength));
    }
    return out;
  }

  private sha(i: number): string {
    return this.chain.slice(i * this.idLength, (i + 1) * this.idLength);
  }

  private parents(i: number): string[] {
    return [...(i > 0 ? [this.sha(i - 1)] : []), ...this.otherParents.list(i, this.idLength)];
  }

  private chainCommit(i: number): ChainCommit {
    return { sha: this.sha(i), parents: this.parents(i), tree: this.trees.slice(i * this.idLength, (i + 1) * this.idLength) };
  }
}
