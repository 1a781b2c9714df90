/**
 * Incremental parity: the report with the cache is the report without it, at every step of a main
 * that moves every way it can — a fast-forward, a plain commit, a merge, a squash, a merge and its
 * revert, a conflict resolved by hand — and is then rewritten: force-pushed, merged "foxtrot" (the
 * old tip only a second parent), moved back. Each step says how much of main's history was read (one
 * log of the new commits, or the whole log again after a rewrite, or none), and a corrupt, foreign or
 * unwritable cache changes nothing but the time it takes.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture, type ScenarioBranch } from '../../fixtures/repo.js';
import type { ParityCache } from '../../src/contract/types.generated.js';
import { parityCachePath } from '../../src/report/parity-cache.js';
import type { ParityCandidate, ParityReport } from '../../src/report/parity.js';
import { statePaths } from '../../src/store/paths.js';
import { appendEvents, approved, at, cli, cliJson, finalized, gitSpy, pushed, shaOf, tempDirsRemovedAfter, writeShadowConfig } from '../support/index.js';

const tempDir = tempDirsRemovedAfter();
type Key = 'ff' | 'merged' | 'squashed' | 'picked' | 'reverted' | 'conflict' | 'rewritten' | 'pending';
const KEYS: readonly Key[] = ['ff', 'merged', 'squashed', 'picked', 'reverted', 'conflict', 'rewritten', 'pending'];

describe('parity with its cache', { timeout: 180_000 }, () => {
  let fx: Fixture;
  let warmDir: string;
  let coldDir: string;
  /** Main when the shadow decided. */
  let shadowMain: string;
  const c = {} as Record<Key, ScenarioBranch>;
  const spy = gitSpy();
  const onMain = (...args: string[]) => fx.git(fx.clone, ...args);
  const main = () => onMain('rev-parse', 'refs/remotes/origin/main');
  const readCache = (dir = warmDir) => JSON.parse(readFileSync(parityCachePath(dir), 'utf8')) as ParityCache;

  const branch = (key: Key, files: Record<string, string>, from = 'origin/main'): void => {
    c[key] = { slug: key, branch: `agent/${key}`, sha: fx.branchFrom(from, `agent/${key}`, files, `${key}: change`) };
  };
  const land = (key: Key) => onMain('merge', '-q', '--no-ff', '-m', `land ${key}`, c[key].sha);
  const squash = (key: Key) => {
    onMain('merge', '-q', '--squash', c[key].sha);
    onMain('commit', '-q', '-m', `${key} (squashed)`);
  };
  const publish = (force = false) => fx.push(fx.clone, `${force ? '+' : ''}HEAD:refs/heads/main`);

  /**
   * parity with the cache (the repository's state directory) and without it (a state directory with
   * the same ledger, its cache removed): the same report; `logs` git logs of main by the cached run.
   */
  async function compare(logs: number): Promise<ParityReport> {
    spy.reset();
    const warm = await cliJson<ParityReport>(fx.clone, ['parity'], { env: spy.env });
    const calls = spy.calls();
    rmSync(join(coldDir, 'cache'), { recursive: true, force: true });
    const cold = await cliJson<ParityReport>(fx.clone, ['--state-dir', coldDir, 'parity']);
    assert.deepEqual(warm, cold);
    assert.equal(calls.filter((s) => s === 'log').length, logs, calls.join(' '));
    assert.equal(readCache().history.tip, main(), 'the cache reached main');
    return warm;
  }
  const fates = (r: ParityReport) =>
    Object.fromEntries(KEYS.map((k) => [k, ((x: ParityCandidate) => `${x.fate}${x.landing ? ` via ${x.landing.via}` : ''}`)(r.candidates.find((x) => x.sha === c[k].sha) as ParityCandidate)]));

  before(async () => {
    fx = createFixture({ scenarios: false, agents: [] });
    writeShadowConfig(fx.clone);
    warmDir = join(fx.clone, '.git', 'shadow-integrator');
    coldDir = tempDir().dir;
    for (const key of ['merged', 'squashed', 'picked', 'reverted', 'rewritten', 'pending'] as const) branch(key, { [`feature/${key}.txt`]: `${key}\n` });
    branch('conflict', { 'src/app.txt': 'line 1\nline 2 from the branch\nline 3\nline 4\nline 5\n' });
    // main moves before the shadow looks (the conflict blocks); `ff` is built on that main.
    fx.commit(fx.clone, { 'src/app.txt': 'line 1\nline 2 from main\nline 3\nline 4\nline 5\n' }, 'main moves');
    publish();
    shadowMain = main();
    branch('ff', { 'feature/ff.txt': 'ff\n' });
    const events = KEYS.flatMap((k, i) => [approved(k), finalized(k, c[k].branch, c[k].sha, at(60 * (i + 1))), pushed(c[k].branch, c[k].sha)]);
    appendEvents(statePaths(warmDir).readiness, events);
    const drained = await cli(fx.clone, ['drain']);
    assert.equal(drained.code, 0, drained.stderr);
    cpSync(statePaths(warmDir).outcomes, statePaths(coldDir).outcomes);
  });
  after(() => fx.remove());

  test('main moves every way, then is rewritten: the cached report is the cold one at every step', async () => {
    // The first run reads the whole log; the next, with main where it was, reads no log at all.
    assert.equal(fates(await compare(1)).conflict, 'pending');
    spy.reset();
    await compare(0);

    onMain('merge', '-q', '--ff-only', c.ff.sha);
    publish();
    assert.equal(fates(await compare(1)).ff, 'landed_clean via ancestor');

    // One plain commit: its log and its patch id, nothing else.
    const before = Object.keys(readCache().patch_ids);
    fx.commit(fx.clone, { 'docs/plain.md': 'plain\n' }, 'a plain commit');
    publish();
    spy.reset();
    await compare(1);
    const added = Object.keys(readCache().patch_ids).filter((k) => !before.includes(k));
    assert.deepEqual(added, [main()], 'a patch id for the new commit only');

    land('merged');
    publish();
    assert.equal(fates(await compare(1)).merged, 'landed_clean via merge');

    squash('squashed');
    publish();
    assert.equal(fates(await compare(1)).squashed, 'landed_clean via squash');
    const afterSquash = main();

    // `picked`'s change cherry-picked onto a topic from the main the shadow saw, merged: a squash found
    // on a side commit, whose parent (not kept in the history) git is asked for.
    const topic = join(fx.root, 'work', 'topic');
    onMain('worktree', 'add', '-q', '--detach', topic, shadowMain);
    fx.git(topic, 'cherry-pick', c.picked.sha);
    const pickedAt = fx.git(topic, 'rev-parse', 'HEAD');
    onMain('merge', '-q', '--no-ff', '-m', 'merge a topic', pickedAt);
    publish();
    const picked = (await compare(1)).candidates.find((x) => x.sha === c.picked.sha);
    assert.deepEqual([picked?.fate, picked?.landing?.via, picked?.landing?.commit, picked?.landing?.same_base], ['landed_clean', 'squash', pickedAt, true]);
    assert.ok(spy.calls().includes('rev-list'), 'the side commit\'s parents, asked once');
    spy.reset();
    await compare(0);
    assert.deepEqual(spy.calls(), ['cat-file'], 'then answered by the cache');

    land('reverted');
    onMain('revert', '--no-edit', '-m', '1', 'HEAD');
    publish();
    assert.equal(fates(await compare(1)).reverted, 'reverted via merge');

    try {
      land('conflict');
      assert.fail('the conflict should not merge cleanly');
    } catch {
      writeFileSync(join(fx.clone, 'src/app.txt'), 'line 1\nline 2 resolved by a person\nline 3\nline 4\nline 5\n');
      onMain('add', 'src/app.txt');
      onMain('commit', '-q', '--no-edit');
    }
    publish();
    const beforeRewrite = await compare(1);
    assert.deepEqual(fates(beforeRewrite), {
      ff: 'landed_clean via ancestor',
      merged: 'landed_clean via merge',
      squashed: 'landed_clean via squash',
      picked: 'landed_clean via squash',
      reverted: 'reverted via merge',
      conflict: 'landed_resolved via merge',
      rewritten: 'pending',
      pending: 'pending',
    });

    // Force-pushed: back to the squash, then `rewritten` lands instead of the revert and the conflict.
    const rewrittenAway = main();
    onMain('reset', '-q', '--hard', afterSquash);
    land('rewritten');
    publish(true);
    const rewritten = fates(await compare(2));
    assert.deepEqual([rewritten.reverted, rewritten.conflict, rewritten.rewritten], ['pending', 'pending', 'landed_clean via merge']);

    // Foxtrot: a commit on an older main, with main merged into it: the old tip is a second parent only.
    const tip = main();
    onMain('reset', '-q', '--hard', afterSquash);
    fx.commit(fx.clone, { 'docs/foxtrot.md': 'foxtrot\n' }, 'work on an older main');
    onMain('merge', '-q', '--no-ff', '-m', 'merge main into it', tip);
    publish(true);
    await compare(2);

    // Moved back: main is an older commit again.
    onMain('reset', '-q', '--hard', afterSquash);
    publish(true);
    assert.equal(fates(await compare(2)).rewritten, 'pending');

    // And forward to the commit it had before the rewrite: a history of its own again, not a leftover.
    onMain('reset', '-q', '--hard', rewrittenAway);
    publish(true);
    assert.deepEqual(await compare(1), beforeRewrite);
  });

  test('a corrupt, foreign or inconsistent cache is ignored and rebuilt, never an error', async () => {
    await compare(0);
    const good = readCache();
    const other = { ids: '', counts: [0, 0] };
    const variants: [string, string][] = [
      ['not JSON', '{"schema_version": 1, "history": '],
      ['binary', '\u0000\u0001\u0002'],
      ['another format', JSON.stringify({ schema_version: 2, main: good.history.tip })],
      ['another repository\'s history', JSON.stringify({ ...good, history: { tip: shaOf(2), chain: shaOf(1) + shaOf(2), trees: shaOf(3) + shaOf(3), other_parents: other, brought: other, brought_merges: other, reverts: {} } })],
      ['a chain with a gap', JSON.stringify({ ...good, history: { ...good.history, chain: good.history.chain.slice(0, 40) + good.history.chain.slice(80) } })],
      ['a tip that is not the chain\'s', JSON.stringify({ ...good, history: { ...good.history, tip: good.history.chain.slice(0, 40) } })],
    ];
    for (const [what, text] of variants) {
      writeFileSync(parityCachePath(warmDir), text);
      await compare(1);
      assert.deepEqual(readCache().history, good.history, what);
    }
    // Deleted: rebuilt like a first run.
    rmSync(join(warmDir, 'cache'), { recursive: true, force: true });
    await compare(1);
  });

  test('a cache that cannot be written is said in the log, and the report stands', async () => {
    rmSync(join(warmDir, 'cache'), { recursive: true, force: true });
    mkdirSync(parityCachePath(warmDir), { recursive: true }); // a directory where the file belongs
    const r = await cli(fx.clone, ['parity', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /parity_cache_not_written/);
    rmSync(join(warmDir, 'cache'), { recursive: true, force: true });
    const cold = await cliJson<ParityReport>(fx.clone, ['parity']);
    assert.deepEqual(JSON.parse(r.stdout), cold);
  });
});
