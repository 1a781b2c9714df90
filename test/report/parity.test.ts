/**
 * parity on a real history: the shadow decides (a real drain, plus one ledger line written directly
 * for a blocked candidate), then a "live" integrator lands the candidates every way it can — a clean
 * merge, a squash merge, a conflict resolved by hand, a merge with changes of its own, a merge that is
 * reverted, a squash undone by hand — and leaves one pending. Each live fate, the matrix, the
 * agreement, the gate's exit codes, and that parity writes nothing to the repository.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture, type ScenarioBranch } from '../../fixtures/repo.js';
import { diffSnapshots, snapshotRepo } from '../../fixtures/snapshot.js';
import type { Outcome } from '../../src/contract/types.generated.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { appendRecords } from '../../src/store/jsonl.js';
import { wilson95, type ParityCandidate, type ParityReport } from '../../src/report/parity.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { appendEvents, approved, at, cli, cliJson, finalized, gitSpy, pushed, readyEvents, tempDirsRemovedAfter, writeShadowConfig } from '../support/index.js';

/** Event times in minutes after T0. */
const minute = (m: number) => at(m * 60);
const tempDir = tempDirsRemovedAfter();

type Key = 'clean' | 'squash' | 'conflict' | 'evil' | 'reverted' | 'undone' | 'pending' | 'overstrict' | 'old' | 'new' | 'already';

const EXPECTED: Record<Key, { row: string; fate: string; verdict: string; via?: string }> = {
  clean: { row: 'would_integrate', fate: 'landed_clean', verdict: 'agree', via: 'merge' },
  squash: { row: 'would_integrate', fate: 'landed_clean', verdict: 'agree', via: 'squash' },
  conflict: { row: 'would_block', fate: 'landed_resolved', verdict: 'agree', via: 'merge' },
  evil: { row: 'would_integrate', fate: 'landed_resolved', verdict: 'unsafe_permissive', via: 'merge' },
  reverted: { row: 'would_integrate', fate: 'reverted', verdict: 'unsafe_permissive', via: 'merge' },
  undone: { row: 'would_integrate', fate: 'reverted', verdict: 'unsafe_permissive', via: 'squash' },
  pending: { row: 'would_integrate', fate: 'pending', verdict: 'excluded' },
  overstrict: { row: 'would_block', fate: 'landed_clean', verdict: 'over_strict', via: 'merge' },
  old: { row: 'superseded', fate: 'pending', verdict: 'excluded' },
  new: { row: 'would_integrate', fate: 'landed_clean', verdict: 'agree', via: 'merge' },
  already: { row: 'already_integrated', fate: 'landed_clean', verdict: 'excluded', via: 'merge' },
};

describe('parity', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let paths: StatePaths;
  const c = {} as Record<Key, ScenarioBranch>;
  const commits: Record<string, string> = {};

  /** A branch forked from origin/main with one commit, pushed to origin. */
  const branch = (key: Key, files: Record<string, string | null>): void => {
    c[key] = { slug: key === 'old' || key === 'new' ? 'twice' : key, branch: `agent/${key}`, sha: fx.branchFrom('origin/main', `agent/${key}`, files, `${key}: change`) };
  };
  const onMain = (...args: string[]) => fx.git(fx.clone, ...args);
  const mergeNoFf = (key: Key) => onMain('merge', '-q', '--no-ff', '-m', `land ${key}`, c[key].sha);
  const squash = (key: Key) => {
    onMain('merge', '-q', '--squash', c[key].sha);
    onMain('commit', '-q', '-m', `${key} (squashed)`);
    return onMain('rev-parse', 'HEAD');
  };

  before(async () => {
    fx = createFixture({ scenarios: false, agents: [] });
    // Each candidate onto live main alone: the live fates are the subject here (stack-caused blocks: test/engine/stack.test.ts).
    writeShadowConfig(fx.clone, { base: 'tip' });
    paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    for (const key of ['clean', 'squash', 'evil', 'reverted', 'undone', 'pending', 'overstrict', 'old', 'new', 'already'] as const) branch(key, { [`feature/${key}.txt`]: `${key}\n` });
    branch('conflict', { 'src/app.txt': 'line 1\nline 2 from the branch\nline 3\nline 4\nline 5\n' });

    // Before the shadow looks: main changes line 2 (conflict blocks), and `already` lands.
    fx.commit(fx.clone, { 'src/app.txt': 'line 1\nline 2 from main\nline 3\nline 4\nline 5\n' }, 'main moves');
    mergeNoFf('already');
    fx.push(fx.clone, 'HEAD:refs/heads/main');

    // The shadow decides everything but `overstrict` with a real drain…
    const events = (['clean', 'squash', 'conflict', 'evil', 'reverted', 'undone', 'pending', 'already'] as const).flatMap((k, i) => readyEvents(c[k], minute(i + 1)));
    events.push(approved('twice'), finalized('twice', c.old.branch, c.old.sha, minute(20)), pushed(c.old.branch, c.old.sha), finalized('twice', c.new.branch, c.new.sha, minute(21)), pushed(c.new.branch, c.new.sha));
    appendEvents(paths.readiness, events);
    const drained = await cli(fx.clone, ['drain']);
    assert.equal(drained.code, 0, drained.stderr);
    // …and blocks `overstrict` (say a check failed): written directly, validated by the outcome schema.
    const mainSha = onMain('rev-parse', 'refs/remotes/origin/main');
    const blocked: Outcome = {
      ...(readOutcomes(paths).outcomes.find((o) => o.slug === 'clean') as Outcome),
      outcome: 'would_block',
      slug: 'overstrict',
      branch: c.overstrict.branch,
      sha: c.overstrict.sha,
      reasons: ['checks_failed'],
      main_sha: mainSha,
      merge_base: onMain('merge-base', mainSha, c.overstrict.sha),
      merged_tree: null,
      message: 'unit tests failed',
    };
    appendRecords(paths.outcomes, [blocked]);

    // The live integrator lands them.
    mergeNoFf('clean'); // exactly what the shadow merged: its recorded tree answers
    commits.squash = squash('squash'); // main has moved: recognised by its patch-id
    try {
      mergeNoFf('conflict');
      assert.fail('the conflict should not merge cleanly');
    } catch {
      writeFileSync(join(fx.clone, 'src/app.txt'), 'line 1\nline 2 resolved by a person\nline 3\nline 4\nline 5\n');
      onMain('add', 'src/app.txt');
      onMain('commit', '-q', '--no-edit');
    }
    onMain('merge', '-q', '--no-ff', '--no-commit', c.evil.sha);
    fx.commit(fx.clone, { 'feature/evil-fixup.txt': 'changed in the merge\n' }, 'land evil');
    mergeNoFf('reverted');
    onMain('revert', '--no-edit', '-m', '1', 'HEAD');
    commits.revert = onMain('rev-parse', 'HEAD');
    commits.undone = squash('undone');
    fx.commit(fx.clone, { 'feature/undone.txt': null }, 'drop the undone feature'); // a revert by hand: no message, the inverse patch
    commits.undoneBy = onMain('rev-parse', 'HEAD');
    mergeNoFf('overstrict');
    mergeNoFf('new');
    fx.push(fx.clone, 'HEAD:refs/heads/main');
  });
  after(() => fx.remove());

  const byKey = (r: ParityReport) => Object.fromEntries((Object.keys(EXPECTED) as Key[]).map((k) => [k, r.candidates.find((x) => x.sha === c[k].sha) as ParityCandidate]));

  test('--json: each candidate\'s live fate, how it landed, and the verdict', async () => {
    const r = await cliJson<ParityReport>(fx.clone, ['parity']);
    const got = byKey(r);
    for (const [k, want] of Object.entries(EXPECTED) as [Key, (typeof EXPECTED)[Key]][]) {
      const g = got[k];
      assert.ok(g, `${k} is in the report`);
      assert.deepEqual({ row: g.row, fate: g.fate, verdict: g.verdict, via: g.landing?.via }, { ...want, via: want.via }, k);
    }
    assert.equal(got.squash?.landing?.commit, commits.squash);
    assert.equal(got.clean?.landing?.same_base, true, 'the live merge started from the main the shadow evaluated against');
    assert.equal(got.conflict?.landing?.same_base, false);
    assert.equal(got.reverted?.reverted_by, commits.revert);
    assert.equal(got.undone?.reverted_by, commits.undoneBy, 'found by the inverse patch-id');
  });

  test('--json: matrix, agreement with its Wilson interval, unsafe-permissive, over-strict, pending, mismatches', async () => {
    const r = await cliJson<ParityReport>(fx.clone, ['parity']);
    assert.deepEqual(r.matrix, {
      would_integrate: { landed_clean: 3, landed_resolved: 1, reverted: 2, pending: 1 },
      would_block: { landed_clean: 1, landed_resolved: 1, reverted: 0, pending: 0 },
      already_integrated: { landed_clean: 1, landed_resolved: 0, reverted: 0, pending: 0 },
      superseded: { landed_clean: 0, landed_resolved: 0, reverted: 0, pending: 1 },
    });
    assert.deepEqual([r.compared, r.agreed, r.agreement], [8, 4, 0.5]);
    assert.deepEqual(r.wilson95, wilson95(4, 8));
    assert.deepEqual([r.unsafe_permissive, r.over_strict, r.pending, r.excluded], [3, 1, 2, 3]);
    assert.deepEqual(r.mismatches.map((m) => [m.slug, m.verdict]).sort(), [
      ['evil', 'unsafe_permissive'],
      ['overstrict', 'over_strict'],
      ['reverted', 'unsafe_permissive'],
      ['undone', 'unsafe_permissive'],
    ]);
    assert.equal(r.main_sha, fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main'));
    assert.equal(r.gate, null);
  });

  test('for people: the matrix, the rate, the mismatches and the definition', async () => {
    const out = await cli(fx.clone, ['parity']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /SHADOW \\ LIVE +landed_clean +landed_resolved +reverted +pending\nwould_integrate +3 +1 +2 +1\n/);
    assert.match(out.stdout, /agreement +50\.0% \(4\/8\), 95% Wilson interval 21\.5%–78\.5%/);
    assert.match(out.stdout, /unsafe_permissive +evil +agent\/evil/);
    assert.match(out.stdout, /over_strict +overstrict .* landed_clean via merge/);
    assert.match(out.stdout, /agreement = agreed \/ compared/);
  });

  test('the gate: exit 3 on an unsafe-permissive mismatch or below the threshold, 0 when it holds, 2 on a bad threshold', async () => {
    const unsafe = await cli(fx.clone, ['parity', '--min-agreement', '0.1']);
    assert.equal(unsafe.code, 3);
    assert.match(unsafe.stderr, /parity gate failed/);
    assert.match(unsafe.stdout, /gate +FAILED \(min 10\.0%\): 3 unsafe-permissive mismatch\(es\)/, 'the report is printed before the exit');

    // The same decisions without the unsafe ones: agreement 4/5 with one over-strict.
    const ledger = readOutcomes(paths).outcomes.filter((o) => !['evil', 'reverted', 'undone'].includes(o.slug));
    const stateDir = tempDir().dir;
    appendRecords(statePaths(stateDir).outcomes, ledger);
    const run = (min: string) => cli(fx.clone, ['--state-dir', stateDir, 'parity', '--json', '--min-agreement', min]);
    const below = await run('0.9');
    assert.equal(below.code, 3);
    assert.deepEqual((JSON.parse(below.stdout) as ParityReport).gate, { min_agreement: 0.9, passed: false, failures: ['agreement 80.0% is below 90.0%'] });
    assert.match(below.stderr, /parity gate failed: agreement 80\.0% vs required 90\.0%/, 'the report on stdout, the verdict on stderr');
    const holds = await run('0.8');
    assert.equal(holds.code, 0, holds.stderr);
    assert.equal((JSON.parse(holds.stdout) as ParityReport).gate?.passed, true);
    const nothing = await cli(fx.clone, ['--state-dir', stateDir, 'parity', '--since', '2099-01-01', '--min-agreement', '0']);
    assert.equal(nothing.code, 3, 'no evidence is not a pass');
    assert.match(nothing.stdout, /no decision could be compared/);
    for (const bad of ['1.5', '-0.1', 'most']) {
      const r = await cli(fx.clone, ['parity', '--min-agreement', bad]);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /--min-agreement "[^"]+" is not valid: must be a number from 0 to 1/);
    }
  });

  test('git calls do not grow with the number of commits or candidates; the cache answers a second run; nothing is written', async () => {
    // A git on PATH that logs every call: a log of main; patch ids of main's commits, then the inverse
    // changes of the landings main's history finds alone (beside them), then those of the squash
    // merges (after them); one merge-tree --stdin for the live merges the records cannot answer.
    rmSync(join(paths.dir, 'cache'), { recursive: true, force: true });
    const spy = gitSpy();
    const before = { clone: snapshotRepo(fx.clone), origin: snapshotRepo(fx.origin) };
    const r = await cli(fx.clone, ['parity', '--json'], { env: spy.env });
    assert.equal(r.code, 0, r.stderr);
    const calls = spy.calls();
    const count = (sub: string) => calls.filter((s) => s === sub).length;
    assert.deepEqual([count('log'), count('diff-tree'), count('patch-id')], [1, 3, 3]);
    // Merges the shadow's record cannot answer (conflict, evil, reverted, overstrict, new, already; clean is answered), all in one process.
    assert.equal(count('merge-tree'), 1);
    // Besides: a cat-file resolving main, and one reading main's .gitattributes for the directory merge-tree runs in.
    assert.ok(calls.length <= 10, calls.join('\n'));
    // Main has not moved: main's tip is resolved, and the cache answers all the rest.
    spy.reset();
    const again = await cli(fx.clone, ['parity', '--json'], { env: spy.env });
    assert.deepEqual(spy.calls(), ['cat-file']);
    assert.equal(again.stdout, r.stdout);
    assert.deepEqual([...diffSnapshots(before.clone, snapshotRepo(fx.clone)), ...diffSnapshots(before.origin, snapshotRepo(fx.origin))], []);
  });
});

describe('a block the stack caused, held against the order live landed in', () => {
  // The shadow blocked `second` for colliding with `first` ahead of it (written directly: the rule is
  // the subject, not the merge). Live landing `second` cleanly after `first` says the shadow was too
  // strict; landing it before `first` is another order, which the shadow could not have known.
  for (const order of [['first', 'second'], ['second', 'first']] as const) {
    test(`live lands ${order.join(' then ')}: ${order[0] === 'first' ? 'over_strict' : 'order_differs'}`, async () => {
      const fx = createFixture({ scenarios: false, agents: [] });
      try {
        writeShadowConfig(fx.clone);
        const paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
        mkdirSync(paths.dir, { recursive: true });
        const mainSha = fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main');
        const ref = (key: 'first' | 'second') => ({ slug: key, branch: `agent/${key}`, sha: fx.branchFrom('origin/main', `agent/${key}`, { [`feature/${key}.txt`]: `${key}\n` }, `${key}: change`) });
        const [first, second] = [ref('first'), ref('second')];
        const decided = (c: typeof first, n: number, fields: Partial<Outcome>): Outcome => ({
          schema_version: 1,
          outcome: 'would_integrate',
          ...c,
          reasons: [],
          conflicts: [],
          main_sha: mainSha,
          merge_base: mainSha,
          merged_tree: null,
          ready_at: minute(n),
          enqueued_at: minute(n),
          decided_at: minute(n),
          lease_epoch: 1,
          duration_ms: 1,
          base: 'queue',
          ahead: [],
          ...fields,
        });
        appendRecords(paths.outcomes, [
          decided(first, 1, {}),
          decided(second, 2, { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [{ path: 'feature/second.txt', kind: 'content' }], ahead: [first], collides_with: [first] }),
        ]);
        for (const key of order) fx.git(fx.clone, 'merge', '-q', '--no-ff', '-m', `land ${key}`, key === 'first' ? first.sha : second.sha);
        fx.push(fx.clone, 'HEAD:refs/heads/main');
        const p = await cliJson<ParityReport>(fx.clone, ['parity']);
        const row = p.candidates.find((x) => x.slug === 'second');
        const expected = order[0] === 'first' ? 'over_strict' : 'order_differs';
        assert.deepEqual([row?.row, row?.fate, row?.verdict], ['would_block', 'landed_clean', expected]);
        assert.deepEqual([p.stack_blocks, p.order_differs, p.over_strict], [1, expected === 'order_differs' ? 1 : 0, expected === 'over_strict' ? 1 : 0]);
      } finally {
        fx.remove();
      }
    });
  }
});
