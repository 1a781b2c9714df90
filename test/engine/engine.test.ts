/**
 * The git engine end to end on real fixtures (bare origin, clone, agent worktrees): every scenario's
 * decision with both engines, the fresh re-check, checks in the scratch worktree and its recovery
 * after a crash — and the proof that none of it writes the repository or the remote, nor ever holds
 * a lock a live integration needs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureEnv } from '../../fixtures/git.js';
import { createFixture, SCENARIO_KEYS, type Fixture, type ScenarioKey } from '../../fixtures/repo.js';
import { diffSnapshots, installPushGuard, pushAttempts, snapshotRepo, type RepoSnapshot } from '../../fixtures/snapshot.js';
import type { ResolvedConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/context.js';
import { createEngine, type Candidate, type Evaluation } from '../../src/engine/evaluate.js';
import { spyOnGit } from '../git/spy.js';

type EngineConfig = Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks'>;
const BASE: EngineConfig = { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [] };
type Engine = (c: Candidate) => Promise<Evaluation>;

const scratchDirOf = (fx: Fixture) => join(fx.clone, '.git', 'shadow-integrator', 'scratch');

function engineFor(fx: Fixture, config: Partial<EngineConfig> = {}, scratchDir = scratchDirOf(fx)): Engine {
  return createEngine({ repoDir: fx.clone, commonDir: join(fx.clone, '.git'), config: { ...BASE, ...config }, scratchDir, logger: silentLogger });
}

const check = (run: string, timeout_seconds = 30) => ({ name: run.split(' ')[0] as string, run, timeout_seconds });

interface Expected {
  outcome: Evaluation['outcome'];
  reasons: string[];
  conflicts?: [string, string][];
}

/** The merge-tree engine's decision for every scenario; `(sha)` stands for the scenario's sha. */
const EXPECTED: Record<ScenarioKey, Expected> = {
  clean: { outcome: 'would_integrate', reasons: [] },
  clean2: { outcome: 'would_integrate', reasons: [] },
  superseded_old: { outcome: 'would_integrate', reasons: [] },
  superseded_new: { outcome: 'would_integrate', reasons: [] },
  conflict_content: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/app.txt', 'contents']] },
  conflict_modify_delete: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/legacy.txt', 'modify/delete']] },
  conflict_add_add: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/new.txt', 'add/add']] },
  conflict_rename: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/rename-me.txt', 'rename/rename'], ['src/renamed-by-branch.txt', 'rename/rename'], ['src/renamed-by-main.txt', 'rename/rename']] },
  conflict_binary: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['assets/logo.bin', 'binary']] },
  // git moves the branch's file aside, named after the side it came from: the sha, as the engine merges by sha.
  conflict_file_directory: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/thing~(sha)', 'file/directory']] },
  already_merged: { outcome: 'would_block', reasons: ['already_integrated'] },
  squashed: { outcome: 'would_block', reasons: ['already_integrated'] },
  not_on_remote: { outcome: 'would_block', reasons: ['sha_not_on_remote_branch'] },
};

const pairs = (e: Evaluation) => e.conflicts.map((c) => [c.path, c.kind]).sort();

describe('git engine on a fixture repository, with the zero-write proof', () => {
  let fx: Fixture;
  let clone: RepoSnapshot;
  let origin: RepoSnapshot;
  let mainSha: string;

  before(() => {
    fx = createFixture();
    installPushGuard(fx.origin);
    clone = snapshotRepo(fx.clone);
    origin = snapshotRepo(fx.origin);
    mainSha = fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main');
  });
  after(() => fx.remove());

  test('every scenario: decision, reasons, conflicts with their kinds and paths', async () => {
    const engine = engineFor(fx);
    for (const key of SCENARIO_KEYS) {
      const s = fx.scenarios[key];
      const want = EXPECTED[key];
      const got = await engine(s);
      assert.equal(got.outcome, want.outcome, `${key}: ${got.message ?? ''}`);
      assert.deepEqual(got.reasons, want.reasons, key);
      assert.equal(got.main_sha, mainSha, key);
      assert.equal(got.engine, 'merge-tree');
      assert.match(got.git_version ?? '', /^\d+\.\d+/);
      assert.deepEqual(pairs(got), (want.conflicts ?? []).map(([p, k]) => [p.replace('(sha)', s.sha), k]).sort(), key);
      if (want.reasons.includes('merge_conflict')) assert.match(got.message ?? '', /^CONFLICT|^warning/m, key);
      if (want.outcome === 'would_integrate') {
        assert.equal(got.merge_base, fx.git(fx.clone, 'merge-base', mainSha, s.sha), key);
        assert.match(got.merged_tree ?? '', /^[0-9a-f]{40}$/, key);
        assert.equal(got.message, undefined, key);
      } else assert.equal(got.merged_tree, null, key);
    }
  });

  test('spawns: 3 git processes on the clean path (resolve, merge-base, merge-tree), 2 to say a sha is not on its branch', async () => {
    const engine = engineFor(fx);
    await engine(fx.scenarios.clean); // git version is checked once per process
    const spy = spyOnGit();
    try {
      assert.equal((await engine(fx.scenarios.clean)).outcome, 'would_integrate');
      // The resolution comes first; merge-base and merge-tree run side by side, in either order.
      const [first, ...together] = spy.calls();
      assert.equal(first, 'cat-file');
      assert.deepEqual(together.sort(), ['merge-base', 'merge-tree']);
      spy.reset();
      assert.deepEqual((await engine(fx.scenarios.not_on_remote)).reasons, ['sha_not_on_remote_branch']);
      assert.deepEqual(spy.calls(), ['cat-file', 'merge-base']);
    } finally {
      spy.restore();
    }
  });

  test('the worktree engine (a real git merge --no-commit) agrees with merge-tree on every scenario', async () => {
    const viaTree = engineFor(fx);
    const viaWorktree = engineFor(fx, { engine: 'worktree' });
    for (const key of SCENARIO_KEYS) {
      const [a, b] = [await viaTree(fx.scenarios[key]), await viaWorktree(fx.scenarios[key])];
      assert.equal(b.outcome, a.outcome, `${key}: ${b.message ?? ''}`);
      assert.deepEqual(b.reasons, a.reasons, key);
      assert.equal(b.merged_tree, a.merged_tree, key);
      assert.deepEqual(pairs(b), pairs(a), key);
      assert.equal(b.engine, 'worktree');
    }
    const scratch = scratchDirOf(fx);
    assert.equal(fx.git(scratch, 'rev-parse', 'HEAD'), mainSha, 'left detached on main');
    assert.equal(fx.git(scratch, 'status', '--porcelain'), '', 'left clean, no merge in progress');
    assert.equal(existsSync(join(fx.git(scratch, 'rev-parse', '--absolute-git-dir'), 'MERGE_HEAD')), false);
  });

  test('checks run on the would-be merge: passing, failing with the tail of the output, timing out, background processes killed', async () => {
    // The merged files are there, and git in a check reads the merge's objects (HEAD is main, the index the merge).
    const pass = engineFor(fx, { checks: [check('test -f feature/clean.txt && test -f src/renamed-by-main.txt && touch junk'), check('test "$(git diff --cached --name-only HEAD)" = feature/clean.txt')] });
    assert.equal((await pass(fx.scenarios.clean)).outcome, 'would_integrate');
    const next = await engineFor(fx, { checks: [check('test ! -e junk && test -f feature/other.txt')] })(fx.scenarios.clean2);
    assert.equal(next.outcome, 'would_integrate', `nothing left from the previous candidate: ${next.message ?? ''}`);

    const fail = await engineFor(fx, { checks: [check('true'), check('seq 1 5000; echo boom >&2; exit 3')] })(fx.scenarios.clean);
    assert.equal(fail.outcome, 'would_block');
    assert.deepEqual(fail.reasons, ['checks_failed']);
    assert.equal(fail.merged_tree, null);
    assert.match(fail.message ?? '', /^check "seq" exited 3:\n/);
    assert.match(fail.message ?? '', /4999\n5000\nboom\n$/);
    assert.ok((fail.message ?? '').length < 4200, 'only the tail is kept');

    const t0 = Date.now();
    const slow = await engineFor(fx, { checks: [check('sleep 30', 0.3)] })(fx.scenarios.clean);
    assert.deepEqual(slow.reasons, ['checks_failed']);
    assert.match(slow.message ?? '', /timed out after 0.3 s/);
    const left = await engineFor(fx, { checks: [check('sleep 30 & echo started')] })(fx.scenarios.clean);
    assert.equal(left.outcome, 'would_integrate', left.message);
    assert.ok(Date.now() - t0 < 10_000, 'neither the timeout nor a background process holds the evaluation');
  });

  test('a branch or sha that tries option injection is refused, never passed to git', async () => {
    const engine = engineFor(fx);
    for (const c of [
      { slug: 'x', branch: '--upload-pack=touch /tmp/si-pwned', sha: fx.scenarios.clean.sha },
      { slug: 'x', branch: '-c', sha: fx.scenarios.clean.sha },
      { slug: 'x', branch: fx.scenarios.clean.branch, sha: '--output=/tmp/si-pwned' },
      { slug: 'x', branch: fx.scenarios.clean.branch, sha: 'HEAD' },
    ]) {
      const got = await engine(c);
      assert.equal(got.outcome, 'would_block');
      assert.deepEqual(got.reasons, ['git_error']);
      assert.match(got.message ?? '', /refused/);
    }
    assert.equal(existsSync('/tmp/si-pwned'), false);
  });

  test('missing refs and unknown objects: a deleted branch is not on its remote branch; a missing main or sha fails closed', async () => {
    const gone = await engineFor(fx)({ slug: 'x', branch: 'agent/never-pushed', sha: fx.scenarios.clean.sha });
    assert.deepEqual(gone.reasons, ['sha_not_on_remote_branch']);
    assert.match(gone.message ?? '', /does not exist/);
    const noMain = await engineFor(fx, { main_branch: 'trunk' })(fx.scenarios.clean);
    assert.deepEqual(noMain.reasons, ['git_error']);
    assert.equal(noMain.main_sha, null);
    const unknown = await engineFor(fx)({ slug: 'x', branch: fx.scenarios.clean.branch, sha: 'f'.repeat(40) });
    assert.deepEqual(unknown.reasons, ['git_error']);
    assert.match(unknown.message ?? '', /not a commit in this repository/);
    const tree = await engineFor(fx)({ slug: 'x', branch: fx.scenarios.clean.branch, sha: fx.git(fx.clone, 'rev-parse', `${fx.scenarios.clean.sha}^{tree}`) });
    assert.deepEqual(tree.reasons, ['git_error'], 'a tree id is not a commit');
  });

  test('zero writes: refs, reflogs, HEAD, index, worktree status, config and object stores of clone and origin untouched; no push', () => {
    // Runs after every evaluation above: node:test runs a describe's tests in order.
    assert.deepEqual(diffSnapshots(clone, snapshotRepo(fx.clone)), []);
    assert.deepEqual(diffSnapshots(origin, snapshotRepo(fx.origin)), []);
    assert.deepEqual(pushAttempts(fx.origin), []);
  });
});

describe('fresh re-check at dequeue, and the scratch worktree after a crash', () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture();
  });
  after(() => fx.remove());

  test('a branch force-pushed between READY and dequeue is no longer on its remote branch', async () => {
    const engine = engineFor(fx);
    assert.equal((await engine(fx.scenarios.clean2)).outcome, 'would_integrate');
    fx.forcePush('clean2');
    const again = await engine(fx.scenarios.clean2);
    assert.deepEqual(again.reasons, ['sha_not_on_remote_branch']);
    assert.match(again.message ?? '', /force-pushed/);
  });

  test('fetch: true refreshes remote-tracking refs only, with explicit refspecs; a branch deleted on the remote is not on its remote branch', async () => {
    const heads = fx.git(fx.clone, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads');
    const fetchHead = readFileSync(join(fx.clone, '.git', 'FETCH_HEAD'), 'utf8');
    // An agent in another clone pushes; the canonical clone has not fetched it yet.
    const other = join(fx.root, 'other-clone');
    fx.git(fx.root, 'clone', '-q', fx.origin, other);
    const sha = fx.commit(other, { 'late.txt': 'late\n' }, 'late change');
    fx.git(other, 'push', '-q', 'origin', 'HEAD:refs/heads/agent/late');
    const stale = await engineFor(fx)({ slug: 'late', branch: 'agent/late', sha });
    assert.deepEqual(stale.reasons, ['git_error'], 'without fetch the sha is not known yet');
    const fresh = await engineFor(fx, { fetch: true })({ slug: 'late', branch: 'agent/late', sha });
    assert.equal(fresh.outcome, 'would_integrate', fresh.message);
    assert.equal(fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/agent/late'), sha);
    assert.equal(readFileSync(join(fx.clone, '.git', 'FETCH_HEAD'), 'utf8'), fetchHead, 'FETCH_HEAD not written');

    fx.git(other, 'push', '-q', 'origin', ':refs/heads/agent/late');
    const deleted = await engineFor(fx, { fetch: true })({ slug: 'late', branch: 'agent/late', sha });
    assert.deepEqual(deleted.reasons, ['sha_not_on_remote_branch']);
    assert.match(deleted.message ?? '', /no longer exists on origin/);
    assert.equal(fx.git(fx.clone, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads'), heads, 'no local branch written');
  });

  test('a scratch worktree left broken by a crash is rebuilt; a foreign directory in its place is never deleted', async () => {
    const withChecks = { checks: [check('test ! -e junk && test -f feature/clean.txt')] };
    assert.equal((await engineFor(fx, withChecks)(fx.scenarios.clean)).outcome, 'would_integrate');
    const scratch = scratchDirOf(fx);
    const admin = fx.git(scratch, 'rev-parse', '--absolute-git-dir');
    // What a process killed mid-merge leaves: an index lock, a merge in progress, stray files.
    writeFileSync(join(admin, 'index.lock'), '');
    writeFileSync(join(admin, 'MERGE_HEAD'), `${fx.scenarios.conflict_content.sha}\n`);
    writeFileSync(join(scratch, 'junk'), 'left by a check\n');
    for (const engine of ['merge-tree', 'worktree'] as const) {
      const got = await engineFor(fx, { ...withChecks, engine })(fx.scenarios.clean);
      assert.equal(got.outcome, 'would_integrate', `${engine}: ${got.message ?? ''}`);
    }
    // The directory deleted under a running engine: its registration is stale; it is recreated, not duplicated.
    const engine = engineFor(fx, withChecks);
    await engine(fx.scenarios.clean);
    rmSync(scratch, { recursive: true, force: true });
    assert.equal((await engine(fx.scenarios.clean)).outcome, 'would_integrate');
    const registered = fx.git(fx.clone, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ') && l.includes('shadow-integrator'));
    assert.equal(registered.length, 1, registered.join('\n'));
    // Under the same running engine: a lock it cannot clear, then the registration deleted.
    writeFileSync(join(fx.git(scratch, 'rev-parse', '--absolute-git-dir'), 'index.lock'), '');
    assert.equal((await engine(fx.scenarios.clean)).outcome, 'would_integrate');
    rmSync(fx.git(scratch, 'rev-parse', '--absolute-git-dir'), { recursive: true, force: true });
    assert.equal((await engine(fx.scenarios.clean)).outcome, 'would_integrate');

    const foreign = join(fx.root, 'not-a-worktree');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'precious.txt'), 'mine\n');
    const refused = await engineFor(fx, withChecks, foreign)(fx.scenarios.clean);
    assert.deepEqual(refused.reasons, ['git_error']);
    assert.match(refused.message ?? '', /not deleting it/);
    assert.equal(readFileSync(join(foreign, 'precious.txt'), 'utf8'), 'mine\n');
  });
});

test('a live integration committing and pushing in the same repository is never blocked by a lock of this tool', async () => {
  const fx = createFixture();
  try {
    // The live path, in its own process so that it truly runs alongside: commit in the canonical worktree, push main.
    const live = spawn('sh', ['-c', 'set -e; for i in $(seq 1 25); do echo $i > live-$i.txt; git add live-$i.txt; git commit -q -m "live $i"; git push -q origin HEAD:refs/heads/main; done'], {
      cwd: fx.clone,
      env: fixtureEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    live.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolvePromise) => live.on('close', resolvePromise));
    let running = true;
    void exited.then(() => (running = false));
    const engines = [engineFor(fx, { checks: [check('true')] }), engineFor(fx, { engine: 'worktree' })];
    let evaluations = 0;
    while (running) {
      for (const engine of engines) {
        for (const key of ['clean', 'conflict_content', 'squashed'] as const) {
          const got = await engine(fx.scenarios[key]);
          assert.deepEqual(got.reasons, EXPECTED[key].reasons, `${key}: ${got.message ?? ''}`);
          evaluations++;
        }
      }
    }
    assert.equal(await exited, 0, stderr);
    assert.doesNotMatch(stderr, /lock/i);
    assert.ok(evaluations >= 6, `${evaluations} evaluations ran alongside`);
    assert.equal(fx.git(fx.clone, 'rev-list', '--count', 'refs/remotes/origin/main', '^HEAD~25'), '25');
  } finally {
    fx.remove();
  }
});
