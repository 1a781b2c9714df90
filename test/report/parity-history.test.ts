/**
 * Main's history for parity, pure: on seeded random histories (commits on main, side branches,
 * merges of side branches into main and into each other, fast-forwards, reverts by message), a
 * history extended with the commits main gained since any earlier tip is exactly the history built
 * from the whole log; each commit lands where a plain reachability check says; a tip whose
 * first-parent chain does not run through the earlier one is refused; and a history survives the
 * cache's parts unchanged.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CommitInfo } from '../../src/git/history.js';
import type { ParityCacheHistory } from '../../src/contract/types.generated.js';
import { MainHistory, NewCommits, type ChainCommit } from '../../src/report/main-history.js';
import { shaOf } from '../support/index.js';

/** A deterministic pseudo-random sequence (a linear congruential generator). */
function random(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((x / 2 ** 31) * n);
  };
}

interface Generated {
  commits: Map<string, CommitInfo>;
  /** Main's tip after each move, oldest first: each a descendant of the one before, by its first parent. */
  tips: string[];
}

/** A history where main only moves forward along its first parent, as pushes to main do. */
function generate(seed: number, moves: number): Generated {
  const pick = random(seed);
  const commits = new Map<string, CommitInfo>();
  let n = 0;
  const make = (parents: string[], message = ''): string => {
    const sha = shaOf(++n);
    // A few trees repeat, as when main comes back to a state it had.
    commits.set(sha, { sha, parents, tree: shaOf(1_000_000 + pick(Math.max(1, n / 3))), subject: `commit ${n}`, body: message });
    return sha;
  };
  let main = make([]);
  const tips = [main];
  const sides: string[] = [];
  for (let i = 0; i < moves; i++) {
    const kind = pick(6);
    if (kind === 0 || (kind !== 1 && sides.length === 0)) {
      main = make([main]);
    } else if (kind === 1) {
      // A side branch grows, from main or from another side branch.
      const from = sides.length === 0 || pick(2) === 0 ? main : (sides[pick(sides.length)] as string);
      sides.push(make([from]));
      if (pick(2) === 0) sides.push(make([sides.at(-1) as string]));
      continue;
    } else if (kind === 2) {
      main = make([main, sides[pick(sides.length)] as string]);
    } else if (kind === 3) {
      // Two side branches merged into each other, then into main.
      const [a, b] = [sides[pick(sides.length)] as string, sides[pick(sides.length)] as string];
      main = make([main, a === b ? a : make([a, b])]);
    } else if (kind === 4) {
      // A fast-forward: main takes a branch built on its tip.
      const a = make([main]);
      main = make([a]);
    } else {
      const all = [...commits.keys()];
      main = make([main], `This reverts commit ${all[pick(all.length)] as string}.`);
    }
    tips.push(main);
  }
  return { commits, tips };
}

/** The commits reachable from `tip` and not from `exclude`, as a log would give them. */
function logOf(g: Generated, tip: string, exclude?: string): NewCommits {
  const reachable = (from: string | undefined) => {
    const seen = new Set<string>();
    const stack = from ? [from] : [];
    for (let s = stack.pop(); s; s = stack.pop()) {
      if (seen.has(s)) continue;
      seen.add(s);
      stack.push(...(g.commits.get(s) as CommitInfo).parents);
    }
    return seen;
  };
  const old = reachable(exclude);
  const log = new NewCommits();
  for (const sha of reachable(tip)) if (!old.has(sha)) log.add(g.commits.get(sha) as CommitInfo);
  return log;
}

/** The chain commits of a history, root first. */
const chainOf = (h: MainHistory): string[] => (h.cached()?.chain.match(/.{40}/g) ?? []);

const built = (g: Generated, tip: string) => {
  const h = MainHistory.empty();
  assert.equal(h.extend(logOf(g, tip), tip), true);
  return h;
};

describe('main history for parity', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`seed ${seed}: extended from every earlier tip = built from the whole log`, () => {
      const g = generate(seed, 60);
      const step = Math.max(1, Math.floor(g.tips.length / 12));
      for (let k = 0; k < g.tips.length; k += step) {
        const tip = g.tips[k] as string;
        const cold = built(g, tip).cached();
        for (let j = 0; j < k; j += step) {
          const old = g.tips[j] as string;
          const warm = built(g, old);
          assert.equal(warm.extend(logOf(g, tip, old), tip), true, `${old} → ${tip}`);
          assert.deepEqual(warm.cached(), cold, `${old} → ${tip}`);
        }
      }
    });
  }

  test('each commit lands at the first chain commit that reaches it; reverts and trees are found from the messages and the chain', () => {
    const g = generate(11, 80);
    const tip = g.tips.at(-1) as string;
    const h = built(g, tip);
    const chain = chainOf(h).map((sha) => h.onChain(sha) as ChainCommit);
    for (const c of chain) assert.deepEqual(c.parents, g.commits.get(c.sha)?.parents, 'a chain commit keeps its parents');
    const reached = new Set<string>();
    chain.forEach((c, i) => {
      const stack = [c.sha];
      for (let s = stack.pop(); s; s = stack.pop()) {
        if (reached.has(s)) continue;
        reached.add(s);
        assert.equal(h.position(s), i, s);
        stack.push(...(g.commits.get(s) as CommitInfo).parents);
      }
      assert.equal(h.landingOf(c.sha)?.sha, c.sha);
      assert.ok(h.withTree(c.tree).includes(c.sha));
    });
    // Side branches never merged are not on main.
    assert.ok(reached.size < g.commits.size);
    for (const sha of g.commits.keys()) assert.equal(h.has(sha), reached.has(sha), sha);
    const reverts = [...g.commits.values()].filter((c) => c.body.startsWith('This reverts') && h.has(c.sha));
    assert.ok(reverts.length > 0);
    for (const r of reverts) assert.ok(h.revertsByMessage(/commit ([0-9a-f]{40})/.exec(r.body)?.[1] as string).includes(r.sha));
    // Single-parent commits from a chain index on: exactly those that landed there or later.
    const from = Math.floor(chain.length / 2);
    const expected = [...g.commits.values()].filter((c) => c.parents.length <= 1 && (h.position(c.sha) ?? -1) >= from).map((c) => c.sha);
    assert.deepEqual([...h.singleParentFrom(from)].sort(), expected.sort());
  });

  test('a tip whose first-parent chain does not run through the history\'s tip is refused, and changes nothing', () => {
    const g = generate(5, 40);
    const [, second, , fourth] = g.tips as [string, string, string, string];
    const h = built(g, fourth);
    const before = h.cached();
    // main moved back
    assert.equal(h.extend(logOf(g, second, fourth), second), false);
    // main rewritten: a new commit on an older main
    const rewritten = shaOf(9_999);
    g.commits.set(rewritten, { sha: rewritten, parents: [second], tree: shaOf(1), subject: 'rewritten', body: '' });
    assert.equal(h.extend(logOf(g, rewritten, fourth), rewritten), false);
    // a merge whose first parent is not the old tip ("foxtrot"): the old tip is only its second parent
    const foxtrot = shaOf(9_998);
    g.commits.set(foxtrot, { sha: foxtrot, parents: [rewritten, fourth], tree: shaOf(2), subject: 'foxtrot', body: '' });
    assert.equal(h.extend(logOf(g, foxtrot, fourth), foxtrot), false);
    assert.deepEqual(h.cached(), before);
    // Built from scratch, the same tips are histories like any other.
    assert.equal(built(g, foxtrot).landingOf(fourth)?.sha, foxtrot);
  });

  test('a shallow history: the chain ends where the log ends, and its first commit keeps its parents', () => {
    const g = generate(3, 30);
    const tip = g.tips.at(-1) as string;
    const shallowAt = g.tips[10] as string;
    // The log of a shallow clone: nothing older than shallowAt's first parent.
    const log = logOf(g, tip, g.commits.get(shallowAt)?.parents[0]);
    const h = MainHistory.empty();
    assert.equal(h.extend(log, tip), true);
    assert.deepEqual(h.onChain(shallowAt)?.parents, g.commits.get(shallowAt)?.parents);
    assert.equal(h.position(shallowAt), 0);
  });

  test('restored from the cache, a history answers as the one that made it; one that does not hold together is refused', () => {
    const g = generate(7, 50);
    const tip = g.tips.at(-1) as string;
    const h = built(g, tip);
    const cached = h.cached() as ParityCacheHistory;
    const restored = MainHistory.restore(cached);
    assert.ok(restored);
    assert.deepEqual(restored.cached(), cached);
    for (const sha of g.commits.keys()) assert.equal(restored.position(sha), h.position(sha));
    assert.ok(Object.keys(cached.reverts).length > 0);
    const [first = '', second = ''] = [cached.brought.ids.slice(0, 40), cached.brought.ids.slice(40, 80)];
    const broken: [string, ParityCacheHistory][] = [
      ['a tip that is not the chain\'s last', { ...cached, tip: cached.chain.slice(0, 40) }],
      ['a tree missing', { ...cached, trees: cached.trees.slice(40) }],
      ['counts that do not add up', { ...cached, brought: { ids: cached.brought.ids, counts: cached.brought.counts.map((n, i) => (i === 0 ? n + 1 : n)) } }],
      ['counts for fewer chain commits', { ...cached, other_parents: { ids: cached.other_parents.ids, counts: cached.other_parents.counts.slice(1) } }],
      ['a commit in two places', { ...cached, brought: { ids: `${first}${first}${cached.brought.ids.slice(80)}`, counts: cached.brought.counts } }],
      ['a revert that is not on main', { ...cached, reverts: { ...cached.reverts, [second]: [shaOf(123_456)] } }],
    ];
    for (const [what, c] of broken) assert.equal(MainHistory.restore(c), null, what);
  });
});
