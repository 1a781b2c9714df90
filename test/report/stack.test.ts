/**
 * The stack end to end (base: queue, the default), real drains on a real fixture under the test's
 * clock: two candidates that collide with each other and a third that stacks on the first; status
 * shows the stack and explain the collision; live main takes another order, a squash and a merge,
 * and the stack follows — entries leave with their reasons, in the journal too — until the window
 * empties it; parity counts the stack-caused block and classes the one live landed in another order.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import type { ConflictsReport, JournalRecord, Outcome, ParityReport, StatusReport } from '../../src/contract/types.generated.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { readJournal } from '../../src/store/journal.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { appendEvents, cli, cliJson, finalized, manualClock, readyEvents, writeShadowConfig, type CandidateRef } from '../support/index.js';

type Key = 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g';

describe('the stack, drained for real', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let paths: StatePaths;
  const c = {} as Record<Key, CandidateRef>;
  const clock = manualClock();
  const run = (args: string[]) => cli(fx.clone, args, { now: clock.now });
  const json = <T>(args: string[]) => cliJson<T>(fx.clone, args, { now: clock.now });
  const onMain = (...args: string[]) => fx.git(fx.clone, ...args);
  const outcomeOf = (k: Key): Outcome => readOutcomes(paths).outcomes.filter((o) => o.slug === c[k].slug).at(-1) as Outcome;
  const slugs = (refs: readonly CandidateRef[] | undefined) => refs?.map((r) => r.slug.replace('feature-', ''));
  const stackNow = () => readJournal(paths).stack.map((e) => e.slug.replace('feature-', ''));
  /** Makes candidates ready (events at the clock's time) and drains them. */
  async function drain(...keys: Key[]): Promise<void> {
    appendEvents(paths.readiness, keys.flatMap((k) => readyEvents(c[k], clock.now().toISOString())));
    const r = await run(['drain']);
    assert.equal(r.code, 0, r.stderr);
    clock.advance(60_000);
  }

  before(() => {
    fx = createFixture({ scenarios: false, agents: [] });
    writeShadowConfig(fx.clone, { stack_window_seconds: 3600 });
    paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    const base = onMain('rev-parse', 'HEAD');
    const branch = (k: Key, files: Record<string, string>) => (c[k] = { slug: `feature-${k}`, branch: `agent/${k}`, sha: fx.branchFrom(base, `agent/${k}`, files, `${k}: change`) });
    branch('a', { 'src/config.txt': 'setting = 2\n' });
    branch('b', { 'src/config.txt': 'setting = 3\n' });
    for (const k of ['c', 'd', 'e', 'f'] as const) branch(k, { [`feature/${k}.txt`]: `${k}\n` });
    branch('g', { 'src/config.txt': 'setting = 4\n' });
  });
  after(() => fx.remove());

  test('a, b, c ready together: a integrates, b blocks colliding with a, c stacks on a alone', async () => {
    await drain('a', 'b', 'c');
    const [a, b, third] = [outcomeOf('a'), outcomeOf('b'), outcomeOf('c')];
    assert.deepEqual([a.outcome, a.base, slugs(a.ahead)], ['would_integrate', 'queue', []]);
    assert.deepEqual([b.outcome, b.reasons, b.conflicts.map((x) => x.path), slugs(b.ahead), slugs(b.collides_with)], ['would_block', ['merge_conflict'], ['src/config.txt'], ['a'], ['a']]);
    assert.deepEqual([third.outcome, slugs(third.ahead)], ['would_integrate', ['a']]);
    assert.deepEqual(stackNow(), ['a', 'c']);
    assert.equal(readJournal(paths).round?.queue.stacked, 2, 'counted in the round (and so the checkpoint header)');
  });

  test('status shows the stack, each entry with its age and why it is still there; explain names the candidate ahead that b collides with', async () => {
    const s = await json<StatusReport>(['status']);
    assert.deepEqual(s.stack.map((e) => [e.position, e.slug, e.age_s]), [[1, 'feature-a', 60], [2, 'feature-c', 60]]);
    const [first] = s.stack;
    assert.equal(first?.checked?.main_sha, onMain('rev-parse', 'refs/remotes/origin/main'));
    assert.equal(first?.expires_at, new Date(Date.parse(first?.decided_at ?? '') + 3600_000).toISOString());
    assert.match(first?.why ?? '', /did not contain it when the stack was last checked.*leaves when main contains it/);
    const text = (await run(['status'])).stdout;
    assert.match(text, /stack \(2\): would_integrate decisions live main has not taken yet/);
    assert.match(text, /1 +feature-a +agent\/a +\w{12} +60s +not in main \w{12} \(checked \d+s ago\) +in 59m/);

    const explained = (await run(['explain', c.b.slug])).stdout;
    assert.match(explained, /outcome: would_block \(merge_conflict: src\/config.txt contents: collides with feature-a agent\/a@\w{12} ahead of it \(clean onto main alone\)\), merged onto main \+ feature-a \(the stack ahead of it\)/);
  });

  test('conflicts forecasts the stack too: a waiting candidate that collides with a stacked one is paired with it', async () => {
    // g finalized but never approved nor pushed: it waits, and would collide with a once ready.
    appendEvents(paths.readiness, [finalized(c.g.slug, c.g.branch, c.g.sha, clock.now().toISOString())]);
    const r = await json<ConflictsReport>(['conflicts']);
    assert.deepEqual(r.candidates.map((x) => [x.slug, x.state]), [['feature-a', 'stacked'], ['feature-c', 'stacked'], ['feature-g', 'waiting']]);
    assert.deepEqual(r.pairs.map((p) => [p.a.slug, p.b.slug, p.paths]), [['feature-a', 'feature-g', ['src/config.txt']]]);
  });

  test('live main takes b first (another order): a no longer merges and leaves; parity classes b as order_differs, not over-strict', async () => {
    onMain('merge', '-q', '--no-ff', '-m', 'land b', c.b.sha);
    fx.push(fx.clone, 'HEAD:refs/heads/main');
    await drain('d');
    assert.deepEqual(slugs(outcomeOf('d').ahead), ['c']);
    assert.deepEqual(stackNow(), ['c', 'd']);
    const dropped = journalDrops().find((r) => r.slug === c.a.slug);
    assert.deepEqual([dropped?.reason, dropped?.main_sha], ['no_longer_merges', onMain('rev-parse', 'HEAD')]);

    const p = await json<ParityReport>(['parity']);
    const b = p.candidates.find((x) => x.slug === c.b.slug);
    assert.deepEqual([b?.row, b?.fate, b?.verdict, slugs(b?.collides_with)], ['would_block', 'landed_clean', 'order_differs', ['a']]);
    assert.deepEqual([p.stack_blocks, p.order_differs, p.over_strict], [1, 1, 0]);
    assert.equal(p.mismatches.length, 0, 'not a mismatch');
    assert.match((await run(['parity'])).stdout, /stack blocks +1 block\(s\) came from the stack.*1 of them live landed cleanly in another order/);
  });

  test('live main squashes c and merges d: both leave as on_main, and e goes onto main alone', async () => {
    onMain('merge', '-q', '--squash', c.c.sha);
    onMain('commit', '-q', '-m', 'c, squashed');
    onMain('merge', '-q', '--no-ff', '-m', 'land d', c.d.sha);
    fx.push(fx.clone, 'HEAD:refs/heads/main');
    await drain('e');
    assert.deepEqual([outcomeOf('e').outcome, slugs(outcomeOf('e').ahead)], ['would_integrate', []]);
    assert.deepEqual(
      journalDrops()
        .filter((r) => r.slug === c.c.slug || r.slug === c.d.slug)
        .map((r) => [r.slug, r.reason])
        .sort(),
      [
        ['feature-c', 'on_main'],
        ['feature-d', 'on_main'],
      ],
    );
    assert.deepEqual(stackNow(), ['e']);
  });

  test('past stack_window_seconds without reaching main, an entry leaves, and the next candidate goes onto main alone', async () => {
    clock.advance(3600_000);
    await drain('f');
    assert.deepEqual(slugs(outcomeOf('f').ahead), []);
    assert.deepEqual(journalDrops().find((r) => r.slug === c.e.slug)?.reason, 'window');
    assert.deepEqual(stackNow(), ['f']);
    assert.deepEqual((await json<StatusReport>(['status'])).stack.map((e) => e.slug), ['feature-f']);
  });

  /** The stack_drop records of the live journal (not compacted away: the journal stays small here). */
  function journalDrops(): Extract<JournalRecord, { t: 'stack_drop' }>[] {
    const file = join(paths.dir, readJournal(paths).file?.name as string);
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as JournalRecord)
      .filter((r): r is Extract<JournalRecord, { t: 'stack_drop' }> => r.t === 'stack_drop');
  }
});
