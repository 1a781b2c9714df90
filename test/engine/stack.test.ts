/**
 * Queue-order evaluation in the git engine, on a real fixture: candidates that each merge cleanly onto
 * main but collide with each other, an independent one stacked on what is ahead, the stack's entries
 * leaving when live main takes them (merge, squash, cherry-pick), when their branch goes, when they no
 * longer merge — both engines, merges batched ahead, and nothing written to the repository.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { diffSnapshots, snapshotRepo, type RepoSnapshot } from '../../fixtures/snapshot.js';
import type { ResolvedConfig } from '../../src/config/config.js';
import { silentLogger, systemTimers } from '../../src/context.js';
import type { CandidateRef, StackCache, StackEntry } from '../../src/contract/types.generated.js';
import { createEngine, type Engine, type Evaluation, type EvaluationContext } from '../../src/engine/evaluate.js';
import { keptStackDir } from '../../src/engine/stack-cache.js';
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

  const engine = (config: Partial<EngineConfig> = {}, env: NodeJS.ProcessEnv = testEnv(), stateDir = join(fx.clone, '.git', 'shadow-integrator')): Engine => {
    const e = createEngine({ repoDir: fx.clone, commonDir: join(fx.clone, '.git'), stateDir, config: { ...BASE, ...config }, env, timers: systemTimers, now: () => new Date(), logger: silentLogger });
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
    const branch = (k: Key, files: Record<string, string>) => (c[k] = { slug: `feature-${k}`, branch: `agent/${k}`, sha: fx.branchFrom(base, `agent/${k}`, files, `${k}: change`) });
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

  /** What a decision says (all but its times): equal for two engines exactly when they decided the same. */
  const verdict = (o: Evaluation) => ({
    outcome: o.outcome,
    reasons: o.reasons,
    conflicts: o.conflicts,
    message: o.message,
    main_sha: o.main_sha,
    merge_base: o.merge_base,
    merged_tree: o.merged_tree,
    ahead: o.ahead,
    collides_with: o.collides_with,
    left: o.stack?.left.map((l) => [l.entry.slug, l.reason, l.message]),
  });
  let stateDirs = 0;
  /** A state directory of its own, outside the repository: nothing kept from any other engine. */
  const freshState = () => join(fx.root, 'states', String(stateDirs++));
  const fromScratch = async (k: Key, keys: Key[], env = testEnv()): Promise<Evaluation> => {
    const e = engine({}, env, freshState());
    try {
      return await e.evaluate(c[k], stack(...keys));
    } finally {
      await e.close();
    }
  };

  test('the stack kept from one candidate to the next, and from one tenure to the next, gives exactly the verdicts of a stack built from scratch', async () => {
    const [spy, scratchSpy] = [gitSpy(), gitSpy()];
    const mergeTrees = (s: typeof spy) => s.calls().filter((x) => x === 'merge-tree').length;
    const incremental = engine({}, testEnv(), freshState());
    const keptState = freshState();
    const squashA = () => {
      onMain('merge', '-q', '--squash', c.a.sha);
      onMain('commit', '-q', '-m', 'a, squashed');
    };
    const moveOn = () => fx.commit(fx.clone, { 'docs/news.md': 'news\n' }, 'main moves on');
    // [how live main is set (undefined: as it is), the candidate, the stack ahead of it]
    const steps: [string, ((main: string) => void) | undefined, Key, Key[]][] = [
      ['first build', () => undefined, 'd', ['a', 'c']],
      ['main unchanged, one more entry', undefined, 'e', ['a', 'c', 'x']],
      ['main unchanged, a candidate blocked by the stack', undefined, 'y', ['a', 'c', 'x', 'z']],
      ['main unchanged, one collides with the first entry', undefined, 'b', ['a', 'c', 'x', 'z']],
      ['main moves on', moveOn, 'd', ['a', 'c', 'x', 'z']],
      ['main moves on by squashing the first entry', (m) => (moveOn(), squashA(), m), 'd', ['a', 'c', 'x', 'z']],
      ['main moved back (rewritten)', () => undefined, 'd', ['a', 'c', 'x', 'z']],
      ['an entry leaves from the middle', undefined, 'd', ['a', 'x', 'z']],
      ['the same entries again', undefined, 'e', ['a', 'x', 'z']],
      ['main takes a setting that the first entry no longer merges onto', () => fx.commit(fx.clone, { 'src/config.txt': 'setting = 9\n' }, 'main changes the setting'), 'e', ['a', 'c']],
      ['and back', () => undefined, 'e', ['a', 'c', 'x']],
    ];
    for (const [what, how, k, keys] of steps) {
      if (how) liveMain(how);
      const [clone, origin] = [snapshotRepo(fx.clone), snapshotRepo(fx.origin)];
      scratchSpy.reset();
      const scratch = await fromScratch(k, keys, testEnv(scratchSpy.env));
      const kept = engine({}, testEnv(spy.env), keptState);
      spy.reset();
      const [inc, taken] = [await incremental.evaluate(c[k], stack(...keys)), await kept.evaluate(c[k], stack(...keys))];
      await kept.close();
      const onMainAlone = versionAtLeast(scratch.git_version ?? '', 2, 49);
      assert.deepEqual(verdict(inc), verdict(scratch), `${what}: the stack kept in the workspace`);
      assert.deepEqual(verdict(taken), verdict(scratch), `${what}: the stack kept by the tenure before`);
      // git ≥ 2.49 keeps one merge-tree process for the tenure: merges are not counted by processes there.
      if (how === undefined && !onMainAlone) assert.ok(mergeTrees(spy) < mergeTrees(scratchSpy), `${what}: the kept steps are not merged again (${mergeTrees(spy)} merges, from scratch ${mergeTrees(scratchSpy)})`);
      assert.deepEqual([...diffSnapshots(clone, snapshotRepo(fx.clone)), ...diffSnapshots(origin, snapshotRepo(fx.origin))], [], `${what}: nothing written to the repository or the remote`);
    }
    liveMain(() => undefined);
  });

  test('a kept stack that is not whole — record missing, torn or not matching its objects, objects missing or damaged — is dropped and built again: the same verdict, never an error', async () => {
    const state = freshState();
    const kept = keptStackDir(state);
    const scratch = verdict(await fromScratch('y', ['a', 'x', 'z']));
    const keep = async () => {
      const e = engine({}, testEnv(), state);
      assert.deepEqual(verdict(await e.evaluate(c.y, stack('a', 'x', 'z'))), scratch);
      await e.close();
      assert.ok(existsSync(join(kept, 'stack.json')), 'kept at the end of the tenure');
    };
    const record = () => JSON.parse(readFileSync(join(kept, 'stack.json'), 'utf8')) as StackCache;
    const objectFile = (id: string) => join(kept, id.slice(0, 2), id.slice(2));
    const damage: Record<string, () => void> = {
      'the record is missing': () => rmSync(join(kept, 'stack.json')),
      'the record is torn': () => writeFileSync(join(kept, 'stack.json'), readFileSync(join(kept, 'stack.json'), 'utf8').slice(0, 100)),
      'the record is not valid': () => writeFileSync(join(kept, 'stack.json'), '{"schema_version": 1, "main": "not a sha"}\n'),
      "a step's tree is not its commit's": () => {
        const r = record();
        (r.steps[1] as StackCache['steps'][number]).tree = r.steps[0]?.tree as string;
        writeFileSync(join(kept, 'stack.json'), JSON.stringify(r));
      },
      "the stack's last commit is missing": () => rmSync(objectFile(record().steps.at(-1)?.commit as string)),
      'a tree it made is missing': () => rmSync(objectFile(record().objects.find((id) => !record().steps.some((s) => s.commit === id)) as string)),
      'an object is damaged': () => {
        const file = objectFile(record().steps[0]?.commit as string);
        chmodSync(file, 0o644);
        writeFileSync(file, Buffer.from('not a zlib stream'));
      },
      'the directory is gone': () => rmSync(kept, { recursive: true }),
    };
    for (const [what, spoil] of Object.entries(damage)) {
      await keep();
      spoil();
      const e = engine({}, testEnv(), state);
      assert.deepEqual(verdict(await e.evaluate(c.y, stack('a', 'x', 'z'))), scratch, what);
      assert.equal(existsSync(kept), false, `${what}: taken (and dropped), so no other engine takes it`);
      await e.close();
      assert.ok(existsSync(join(kept, 'stack.json')), `${what}: built again and kept`);
    }
  });

  test('two engines starting at once (a racing drain) never both take the kept stack: one takes it, the other builds its own; both decide the same', async () => {
    const state = freshState();
    const first = engine({}, testEnv(), state);
    const scratch = verdict(await fromScratch('e', ['a', 'c', 'x']));
    await first.evaluate(c.e, stack('a', 'c', 'x'));
    await first.close();
    const spy = gitSpy();
    const [one, two] = [engine({}, testEnv(spy.env), state), engine({}, testEnv(spy.env), state)];
    const both = await Promise.all([one.evaluate(c.e, stack('a', 'c', 'x')), two.evaluate(c.e, stack('a', 'c', 'x'))]);
    assert.deepEqual(both.map(verdict), [scratch, scratch]);
    if (!versionAtLeast(both[0].git_version ?? '', 2, 49)) assert.equal(spy.calls().filter((x) => x === 'merge-tree').length, 1 + 4, 'one took the stack (its candidate: one merge), the other merged the three entries and its candidate');
    await Promise.all([one.close(), two.close()]);
    assert.ok(existsSync(join(keptStackDir(state), 'stack.json')), 'one of them kept its stack');
    assert.deepEqual(readdirSync(join(state, 'tmp-objects')), [], "neither left its own directory behind");
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
