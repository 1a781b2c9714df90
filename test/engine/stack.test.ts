/**
 * Queue-order evaluation in the git engine, on a real fixture: candidates that each merge cleanly onto
 * main but collide with each other, an independent one stacked on what is ahead, the stack's entries
 * leaving when live main takes them (merge, squash, cherry-pick), when their branch goes, when they no
 * longer merge — both engines, merges batched ahead, and nothing written to the repository.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { diffSnapshots, snapshotRepo, type RepoSnapshot } from '../../fixtures/snapshot.js';
import type { ResolvedConfig } from '../../src/config/config.js';
import { silentLogger, systemTimers } from '../../src/context.js';
import type { CandidateRef, StackEntry } from '../../src/contract/types.generated.js';
import { createEngine, type Engine, type EvaluationContext } from '../../src/engine/evaluate.js';
import { versionAtLeast } from '../../src/git/parse.js';
import { gitSpy, testEnv } from '../support/index.js';

type EngineConfig = Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks' | 'git_timeout_seconds'>;
const BASE: EngineConfig = { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [], git_timeout_seconds: 120 };

type Key = 'a' | 'b' | 'c' | 'd' | 'e' | 'x' | 'y' | 'z';

describe('the stack in the git engine', () => {
  let fx: Fixture;
  const c = {} as Record<Key, CandidateRef>;
  let base: string;
  let clone: RepoSnapshot;
  let origin: RepoSnapshot;
  const engines: Engine[] = [];

  const engine = (config: Partial<EngineConfig> = {}, env: NodeJS.ProcessEnv = testEnv()): Engine => {
    const e = createEngine({ repoDir: fx.clone, commonDir: join(fx.clone, '.git'), stateDir: join(fx.clone, '.git', 'shadow-integrator'), config: { ...BASE, ...config }, env, timers: systemTimers, now: () => new Date(), logger: silentLogger });
    engines.push(e);
    return e;
  };
  const entry = (k: Key): StackEntry => ({ ...c[k], episode: 1, decided_at: new Date().toISOString(), main_sha: base });
  const stack = (...keys: Key[]): EvaluationContext => ({ base: 'queue', stack: keys.map(entry) });
  const slugs = (refs: readonly CandidateRef[] | undefined) => refs?.map((r) => r.slug);
  const onMain = (...args: string[]) => fx.git(fx.clone, ...args);
  /** Live main moves (pushed to origin and fetched), from the base again each time. */
  const liveMain = (how: (main: string) => void) => {
    onMain('reset', '-q', '--hard', base);
    how(base);
    fx.push(fx.clone, '+HEAD:refs/heads/main');
  };

  before(() => {
    fx = createFixture({ scenarios: false, agents: [] });
    base = onMain('rev-parse', 'HEAD');
    const branch = (k: Key, files: Record<string, string>) => {
      const wt = join(fx.root, 'work', k);
      onMain('worktree', 'add', '-q', '--detach', wt, base);
      c[k] = { slug: `feature-${k}`, branch: `agent/${k}`, sha: fx.commit(wt, files, `${k}: change`) };
      fx.push(wt, `HEAD:refs/heads/agent/${k}`);
    };
    // a and b each merge cleanly onto main, and collide with each other; c, d and e touch nothing of theirs.
    branch('a', { 'src/config.txt': 'setting = 2\n' });
    branch('b', { 'src/config.txt': 'setting = 3\n' });
    branch('c', { 'feature/c.txt': 'c\n' });
    branch('d', { 'feature/d.txt': 'd\n' });
    branch('e', { 'feature/e.txt': 'e\n' });
    // x, y and z change the same file: x its first line, y and z its last, each their own way.
    branch('x', { 'src/app.txt': 'line 1 from x\nline 2\nline 3\nline 4\nline 5\n' });
    branch('y', { 'src/app.txt': 'line 1\nline 2\nline 3\nline 4\nline 5 from y\n' });
    branch('z', { 'src/app.txt': 'line 1\nline 2\nline 3\nline 4\nline 5 from z\n' });
    clone = snapshotRepo(fx.clone);
    origin = snapshotRepo(fx.origin);
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    fx.remove();
  });

  test('two that each merge onto main but collide: the first integrates, the second blocks naming it; an independent third stacks on the first only', async () => {
    const e = engine();
    const a = await e.evaluate(c.a, stack());
    assert.deepEqual([a.outcome, a.ahead], ['would_integrate', []]);
    assert.equal((await e.evaluate(c.b, stack())).outcome, 'would_integrate', 'b merges cleanly onto main alone');

    const b = await e.evaluate(c.b, stack('a'));
    assert.deepEqual([b.outcome, b.reasons, b.conflicts], ['would_block', ['merge_conflict'], [{ path: 'src/config.txt', kind: 'contents' }]]);
    assert.deepEqual(b.ahead, [c.a]);
    assert.deepEqual(b.collides_with, [c.a]);
    assert.match(b.message ?? '', /CONFLICT \(content\): Merge conflict in src\/config.txt/);
    assert.equal(b.main_sha, base, 'main_sha is live main, not the stack');

    // The runtime stacks a only (b blocked): c goes onto main + a.
    const third = await e.evaluate(c.c, stack('a'));
    assert.deepEqual([third.outcome, third.ahead], ['would_integrate', [c.a]]);
    assert.equal(third.merge_base, base);
    const alone = await e.evaluate(c.c, stack());
    assert.notEqual(third.merged_tree, alone.merged_tree, 'the stacked tree holds a as well');
    assert.deepEqual(third.stack?.left, []);
    assert.equal(third.stack?.checked.main_sha, base);

    // Of two ahead, only the one it collides with is named.
    const fourth = await e.evaluate(c.b, stack('c', 'a'));
    assert.deepEqual([slugs(fourth.ahead), slugs(fourth.collides_with)], [['feature-c', 'feature-a'], ['feature-a']]);
    // Two ahead changed the conflicted file; only the one whose change meets it is named (each tried onto main alone).
    const sameFile = await e.evaluate(c.y, stack('x', 'z'));
    assert.deepEqual([sameFile.outcome, slugs(sameFile.collides_with)], ['would_block', ['feature-z']]);
    // Contained in the stack ahead: nothing left to merge.
    const again = await e.evaluate(c.a, stack('a', 'c'));
    assert.deepEqual([again.outcome, again.reasons], ['would_block', ['already_integrated']]);
    assert.match(again.message ?? '', /already in the stack ahead of it \(feature-a /);
  });

  test('the worktree engine stacks the same: the same trees, the same collision', async () => {
    const viaTree = engine();
    const viaWorktree = engine({ engine: 'worktree' });
    for (const [k, ahead] of [['c', ['a']], ['b', ['c', 'a']], ['d', ['a', 'c']]] as [Key, Key[]][]) {
      const [t, w] = [await viaTree.evaluate(c[k], stack(...ahead)), await viaWorktree.evaluate(c[k], stack(...ahead))];
      assert.deepEqual([w.outcome, w.merged_tree, w.collides_with, w.ahead], [t.outcome, t.merged_tree, t.collides_with, t.ahead], k);
    }
    assert.equal(fx.git(join(fx.clone, '.git', 'shadow-integrator', 'scratch'), 'rev-parse', 'HEAD'), base, 'the scratch repository is left on main, never on a stack commit');
  });

  test('stacking wrote nothing to the repository or the remote: the zero-write snapshot is unchanged', () => {
    assert.deepEqual(diffSnapshots(clone, snapshotRepo(fx.clone)), []);
    assert.deepEqual(diffSnapshots(origin, snapshotRepo(fx.origin)), []);
  });

  test('an entry leaves when live main takes it — merged, squashed or cherry-picked — and the candidate goes onto what is left', async () => {
    const e = engine();
    const ways: Record<string, (main: string) => void> = {
      merge: () => onMain('merge', '-q', '--no-ff', '-m', 'land a', c.a.sha),
      squash: () => {
        onMain('merge', '-q', '--squash', c.a.sha);
        onMain('commit', '-q', '-m', 'a, squashed');
      },
      'cherry-pick': () => onMain('cherry-pick', c.a.sha),
    };
    for (const [way, land] of Object.entries(ways)) {
      liveMain(land);
      const d = await e.evaluate(c.d, stack('a', 'c'));
      assert.equal(d.outcome, 'would_integrate', way);
      assert.deepEqual(d.stack?.left.map((l) => [l.entry.slug, l.reason]), [['feature-a', 'on_main']], way);
      assert.deepEqual(slugs(d.ahead), ['feature-c'], way);
      assert.equal(d.main_sha, onMain('rev-parse', 'HEAD'), way);
    }
    liveMain(() => undefined);
  });

  test('an entry leaves when it no longer merges onto a main that moved, and when its branch is gone; a conflict with main itself names nobody ahead', async () => {
    const e = engine();
    liveMain(() => fx.commit(fx.clone, { 'src/config.txt': 'setting = 9\n' }, 'main changes the setting'));
    const moved = await e.evaluate(c.d, stack('a', 'c'));
    assert.deepEqual(moved.stack?.left.map((l) => [l.entry.slug, l.reason]), [['feature-a', 'no_longer_merges']]);
    assert.match(moved.stack?.left[0]?.message ?? '', /src\/config.txt/);
    assert.deepEqual([moved.outcome, slugs(moved.ahead)], ['would_integrate', ['feature-c']]);
    const own = await e.evaluate(c.b, stack('c'));
    assert.deepEqual([own.outcome, own.collides_with, slugs(own.ahead)], ['would_block', undefined, ['feature-c']]);
    liveMain(() => undefined);

    fx.push(fx.clone, ':refs/heads/agent/c');
    const gone = await e.evaluate(c.d, stack('a', 'c'));
    assert.deepEqual(gone.stack?.left.map((l) => [l.entry.slug, l.reason]), [['feature-c', 'branch_gone']]);
    assert.deepEqual(slugs(gone.ahead), ['feature-a']);
    fx.push(fx.clone, `${c.c.sha}:refs/heads/agent/c`);
  });

  test('merges are batched ahead: base: tip merges the next candidates with the first; base: queue only after blocks', async () => {
    const spy = gitSpy();
    const e = engine({}, testEnv(spy.env));
    const mergeTrees = () => spy.calls().filter((x) => x === 'merge-tree').length;
    const first = await e.evaluate(c.c, { base: 'tip', upcoming: [c.d, c.e] });
    // git ≥ 2.49 keeps one merge-tree for the tenure; before, one process per batch.
    const perBatch = versionAtLeast(first.git_version ?? '', 2, 49) ? 0 : 1;
    assert.equal(mergeTrees(), perBatch);
    spy.reset();
    for (const k of ['d', 'e'] as const) assert.equal((await e.evaluate(c[k], { base: 'tip' })).outcome, 'would_integrate');
    assert.equal(mergeTrees(), 0, 'merged already, with the first');

    // base: queue: a would_integrate grows the stack, so nothing is merged ahead after one…
    const q = engine({}, testEnv(spy.env));
    assert.equal((await q.evaluate(c.a, { base: 'queue', stack: [], upcoming: [c.b, c.c] })).outcome, 'would_integrate');
    spy.reset();
    assert.equal((await q.evaluate(c.b, { ...stack('a'), upcoming: [c.c, c.d] })).outcome, 'would_block');
    assert.equal(mergeTrees(), 2 * perBatch, 'b alone onto main + a, then its collision check (b onto main)');
    spy.reset();
    // …after a block, the next miss merges the one after it too, onto the same stack.
    assert.deepEqual(slugs((await q.evaluate(c.c, { ...stack('a'), upcoming: [c.d] })).ahead), ['feature-a']);
    assert.equal(mergeTrees(), perBatch);
    spy.reset();
    assert.deepEqual(slugs((await q.evaluate(c.d, stack('a'))).ahead), ['feature-a']);
    assert.equal(mergeTrees(), 0, 'd was merged onto main + a with c');
    // A stack that grew is another base: merged afresh.
    assert.deepEqual(slugs((await q.evaluate(c.d, stack('a', 'c'))).ahead), ['feature-a', 'feature-c']);
    assert.equal(mergeTrees(), perBatch);
  });

});
