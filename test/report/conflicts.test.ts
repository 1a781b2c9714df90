/**
 * The collision forecast on a real fixture repository, real git: exactly the colliding pairs with
 * their paths (two candidates editing the same line collide; the same file three lines apart does
 * not), a candidate that conflicts with main alone shown as such and left out of pairs, candidates
 * taken from the queue, the ready and the waiting ones; then the cache: nothing merged again on the
 * same main, and after main moved only what its change touches is merged again — counted, and the
 * answer equal to a forecast from scratch; a corrupt cache is rebuilt. The carry-over rule itself is
 * checked as a pure function, its directory-rename clause included.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { loadConfig } from '../../src/config/config.js';
import type { ConflictsReport } from '../../src/contract/types.generated.js';
import { conflicts as validConflicts } from '../../src/contract/output-validators.generated.js';
import { CollisionWatch, WATCH_FORECAST_MAX, watchedCandidates, type ForecastInput } from '../../src/report/conflicts.js';
import { forecastCachePath, carriesOver, mainMove } from '../../src/report/forecast-cache.js';
import { acquireLease, selfOwner } from '../../src/runtime/lease-store.js';
import { HolderSession } from '../../src/runtime/session.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { appendEvents, approved, cli, cliJson, finalized, guardCanonical, manualClock, pushed, readyEvents, testContext, writeShadowConfig, type CandidateRef } from '../support/index.js';

const clock = manualClock();
const LONG = Array.from({ length: 12 }, (_, i) => `note ${i + 1}\n`).join('');
const edit = (text: string, line: number, to: string) => text.split('\n').map((l, i) => (i === line - 1 ? to : l)).join('\n');
const APP = 'line 1\nline 2\nline 3\nline 4\nline 5\n';

describe('conflicts: a collision forecast', { timeout: 60_000 }, () => {
  let fx: Fixture;
  let paths: StatePaths;
  const c: Record<string, CandidateRef> = {};
  const forecastJson = () => cliJson<ConflictsReport>(fx.clone, ['conflicts'], { now: clock.now });
  const pairsOf = (r: ConflictsReport) => r.pairs.map((p) => [p.a.slug, p.b.slug, p.paths]);
  const moveMain = (files: Record<string, string>, message: string) => {
    fx.git(fx.clone, 'checkout', '-q', 'main');
    fx.git(fx.clone, 'merge', '-q', '--ff-only', 'refs/remotes/origin/main');
    fx.commit(fx.clone, files, message);
    fx.push(fx.clone, 'HEAD:refs/heads/main');
  };

  before(async () => {
    fx = createFixture({ scenarios: false, agents: ['alice'] });
    paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    writeShadowConfig(fx.clone);
    moveMain({ 'notes/long.txt': LONG, 'src/config.txt': 'setting = 1\n' }, 'notes');
    const wt = fx.worktrees.alice as string;
    const branch = (slug: string, files: Record<string, string>) => {
      fx.git(wt, 'checkout', '-q', '-B', `agent/alice/${slug}`, 'refs/remotes/origin/main');
      c[slug] = { slug, branch: `agent/alice/${slug}`, sha: fx.commit(wt, files, slug) };
      fx.push(wt, `HEAD:refs/heads/agent/alice/${slug}`);
    };
    branch('line-a', { 'src/app.txt': edit(APP, 2, 'line 2 by a') });
    branch('line-b', { 'src/app.txt': edit(APP, 2, 'line 2 by b') });
    branch('far', { 'src/app.txt': edit(APP, 5, 'line 5 by far') });
    branch('new-file', { 'feature/new.txt': 'new\n' });
    branch('notes', { 'notes/long.txt': edit(LONG, 1, 'note 1 by notes') });
    branch('stale', { 'src/config.txt': 'setting = 2\n' });
    // Main moves on: `stale` now conflicts with main alone.
    moveMain({ 'src/config.txt': 'setting = 3\n' }, 'main sets 3');

    // queued: line-a and far, ingested by a holder that keeps them; ready, not ingested: new-file, stale;
    // waiting (never pushed): line-b, notes.
    appendEvents(paths.readiness, [...readyEvents(c['line-a'] as CandidateRef, clock.now().toISOString()), ...readyEvents(c.far as CandidateRef, clock.now().toISOString())]);
    const acq = await acquireLease(paths, selfOwner('test-holder'), clock.now, 300);
    assert.ok(acq.acquired);
    const session = await HolderSession.open({ paths, config: loadConfig({ cwd: fx.clone }).config, ctx: testContext({ now: clock.now }), held: acq.held });
    await session.ingest();
    await session.endRound();
    session.close();
    appendEvents(paths.readiness, [
      ...readyEvents(c['new-file'] as CandidateRef, clock.now().toISOString()),
      ...readyEvents(c.stale as CandidateRef, clock.now().toISOString()),
      approved('line-b'),
      finalized('line-b', c['line-b']?.branch as string, c['line-b']?.sha as string, clock.now().toISOString()),
      approved('notes'),
      finalized('notes', c.notes?.branch as string, c.notes?.sha as string, clock.now().toISOString()),
      pushed('agent/elsewhere', c.notes?.sha as string),
    ]);
  });
  after(() => fx.remove());

  test('--json lists exactly the colliding pairs with their paths; one that conflicts with main alone is shown, not paired', async () => {
    const r = await forecastJson();
    assert.ok(validConflicts(r), JSON.stringify(validConflicts.errors));
    assert.equal(r.main_sha, fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main'));
    assert.deepEqual(
      r.candidates.map((x) => [x.slug, x.state, x.onto_main, x.conflicts]),
      [
        ['line-a', 'queued', 'clean', []],
        ['far', 'queued', 'clean', []],
        ['new-file', 'ready', 'clean', []],
        ['stale', 'ready', 'conflict', ['src/config.txt']],
        ['line-b', 'waiting', 'clean', []],
        ['notes', 'waiting', 'clean', []],
      ],
    );
    assert.deepEqual(pairsOf(r), [['line-a', 'line-b', ['src/app.txt']]], 'the same line collides; the same file three lines apart does not');
    assert.deepEqual(r.merges, { alone: 6, pairs: 10, pairs_reused: 0, pairs_carried: 0 });
    const text = (await cli(fx.clone, ['conflicts'], { now: clock.now })).stdout;
    assert.match(text, /conflict: src\/config\.txt/);
    assert.match(text, /1 line-a x 5 line-b: src\/app\.txt/);
    assert.match(text, /^ +1 +\\ +\. +\. +- +x +\.$/m, `the matrix row of line-a:\n${text}`);
  });

  test('on the same main nothing is merged again', async () => {
    const r = await forecastJson();
    assert.deepEqual(r.merges, { alone: 0, pairs: 0, pairs_reused: 10, pairs_carried: 0 });
    assert.deepEqual(pairsOf(r), [['line-a', 'line-b', ['src/app.txt']]]);
  });

  test('after main moves, only what its change touches is merged again, and the answer is the one from scratch', async () => {
    moveMain({ 'README.md': '# fixture, moved on\n' }, 'a change no candidate touches');
    const untouched = await forecastJson();
    assert.deepEqual(untouched.merges, { alone: 0, pairs: 0, pairs_reused: 0, pairs_carried: 10 }, 'every answer carries over');
    assert.equal(untouched.candidates.find((x) => x.slug === 'stale')?.onto_main, 'conflict');

    moveMain({ 'notes/long.txt': edit(LONG, 12, 'note 12 on main') }, "main edits a file `notes` edits, far from its line");
    const warm = await forecastJson();
    assert.equal(warm.merges.pairs, 4, "the 4 pairs with notes: notes's file changed on main");
    assert.equal(warm.merges.pairs_carried, 6, 'the 6 others carry over');
    assert.ok(warm.merges.alone >= 1 && warm.merges.alone <= 5, `notes onto main, and the first of each re-merged pair: ${warm.merges.alone}`);

    rmSync(forecastCachePath(paths.dir));
    const cold = await forecastJson();
    assert.deepEqual(cold.merges, { alone: 6, pairs: 10, pairs_reused: 0, pairs_carried: 0 });
    assert.deepEqual([warm.candidates, warm.pairs], [cold.candidates, cold.pairs]);
  });

  test('a corrupt cache is ignored and rebuilt', async () => {
    writeFileSync(forecastCachePath(paths.dir), '{"schema_version": 1, "main_sha": "nope"');
    const r = await forecastJson();
    assert.deepEqual(r.merges, { alone: 6, pairs: 10, pairs_reused: 0, pairs_carried: 0 });
    assert.deepEqual((await forecastJson()).merges.pairs_reused, 10, 'and written whole again');
  });

  test('watch: a collision_forecast line per colliding pair not reported before, only in the watch that held the lease last, never during a check', async () => {
    const ctx = testContext({ now: clock.now });
    const events = () => ctx.logs.filter((l) => l.event === 'collision_forecast').map((l) => [l.fields.slug, l.fields.with_slug, l.fields.paths]);
    const watch = new CollisionWatch(loadConfig({ cwd: fx.clone }), ctx);
    await watch.poll(2, false);
    await watch.poll(1, true);
    assert.deepEqual(events(), [], 'another epoch holds the lease; a check runs');
    await watch.poll(1, false);
    assert.deepEqual(events(), [['line-b', 'line-a', ['src/app.txt']]]);
    // Every forecast saves its cache: a poll that runs none leaves it gone.
    rmSync(forecastCachePath(paths.dir));
    await watch.poll(1, false);
    assert.equal(existsSync(forecastCachePath(paths.dir)), false, 'nothing new in the log nor on main: no forecast');
    moveMain({ 'README.md': '# fixture, moved on again\n' }, 'main moves alone');
    await watch.poll(1, false);
    assert.equal(existsSync(forecastCachePath(paths.dir)), true, 'main moved: a forecast ran');
    assert.equal(events().length, 1, 'the pair it finds again is not said again');

    const wt = fx.worktrees.alice as string;
    fx.git(wt, 'checkout', '-q', '-B', 'agent/alice/line-c', 'refs/remotes/origin/main');
    const sha = fx.commit(wt, { 'src/app.txt': edit(APP, 2, 'line 2 by c') }, 'line-c');
    fx.push(wt, 'HEAD:refs/heads/agent/alice/line-c');
    appendEvents(paths.readiness, [finalized('line-c', 'agent/alice/line-c', sha, clock.now().toISOString())]);
    await watch.poll(1, false);
    assert.deepEqual(events().slice(1), [
      ['line-c', 'line-a', ['src/app.txt']],
      ['line-c', 'line-b', ['src/app.txt']],
    ], 'the new candidate, with each it collides with; the old pair is not said again');
    await watch.close();
  });

  test('nothing is written to the repository or its origin: refs, reflogs, HEAD, index, objects, worktree status as they were', async () => {
    const guard = guardCanonical(fx.clone, { origin: fx.origin });
    rmSync(forecastCachePath(paths.dir));
    await forecastJson();
    guard.assertUntouched();
  });
});

describe('the carry-over rule', () => {
  const topic = { topic: 't', paths: ['src/a.txt', 'docs/new/guide.md'], vanished: [] as string[] };
  const move = (paths: string[], vanished: string[] = []) => mainMove(paths.map((path) => ({ status: 'M', path })), new Set(vanished));
  test("main's change touching none of the candidate's paths: carried over", () => {
    assert.equal(carriesOver(topic, topic, move(['src/b.txt', 'README.md'])), true);
  });
  test('touching one of them, or another topic (its commits not in main changed): not', () => {
    assert.equal(carriesOver(topic, topic, move(['src/a.txt'])), false);
    assert.equal(carriesOver(topic, { topic: 'other' }, move(['README.md'])), false);
  });
  test('a directory main removed that holds a path the candidate changes (a rename would move it): not', () => {
    assert.equal(carriesOver(topic, topic, move(['docs/new/old.md'], ['docs/new'])), false);
    assert.equal(carriesOver(topic, topic, move(['docs/new/old.md'], [])), true, 'the directory is still there: no rename');
  });
  test('a directory the candidate removed that holds a path main changes: not', () => {
    const renamer = { ...topic, vanished: ['lib'] };
    assert.equal(carriesOver(renamer, renamer, move(['lib/added-on-main.c'])), false);
    assert.equal(carriesOver(renamer, renamer, move(['library/x.c'])), true);
  });
  test('a .gitattributes anywhere: nothing carries over', () => {
    assert.equal(carriesOver(topic, topic, move(['sub/.gitattributes'])), false);
  });
});

describe("watch's forecast: at most WATCH_FORECAST_MAX candidates", () => {
  const input = (state: ForecastInput['state'], n: number): ForecastInput[] => Array.from({ length: n }, (_, i) => ({ slug: `${state}-${i}`, branch: `b/${state}-${i}`, sha: `${i}`.padStart(40, '0'), state }));

  test('all of them while they fit', () => {
    const all = [...input('stacked', 2), ...input('queued', 3), ...input('waiting', 5)];
    assert.deepEqual(watchedCandidates(all), all);
  });

  test('past the cap: the stack, the queue and the ready ones first, then the newest waiting ones (the list is oldest first)', () => {
    const all = [...input('stacked', 2), ...input('queued', 8), ...input('ready', 10), ...input('waiting', 500)];
    const kept = watchedCandidates(all);
    assert.equal(kept.length, WATCH_FORECAST_MAX);
    assert.deepEqual(kept.slice(0, 20), all.slice(0, 20));
    assert.deepEqual(kept.slice(20).map((c) => c.slug), all.slice(-(WATCH_FORECAST_MAX - 20)).map((c) => c.slug));
  });

  test('more live candidates than the cap: the first of them, no waiting one', () => {
    const kept = watchedCandidates([...input('queued', WATCH_FORECAST_MAX + 5), ...input('waiting', 3)]);
    assert.equal(kept.length, WATCH_FORECAST_MAX);
    assert.ok(kept.every((c) => c.state === 'queued'));
  });
});
