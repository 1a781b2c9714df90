/**
 * The git engine end to end on a real fixture (bare origin, clone, agent worktrees): every scenario's
 * decision, the fresh re-check, checks in the scratch worktree — and the proof that none of it
 * writes the repository or the remote.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { createFixture, type Fixture, type ScenarioKey } from '../../fixtures/repo.js';
import { diffSnapshots, installPushGuard, pushAttempts, snapshotRepo } from '../../fixtures/snapshot.js';
import type { ResolvedConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/context.js';
import { createEngine, type Candidate, type Evaluation } from '../../src/engine/evaluate.js';

type EngineConfig = Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks'>;
const base: EngineConfig = { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [] };

function engineFor(fx: Fixture, config: Partial<EngineConfig> = {}): (c: Candidate) => Promise<Evaluation> {
  return createEngine({ repoDir: fx.clone, commonDir: join(fx.clone, '.git'), config: { ...base, ...config }, scratchDir: join(fx.clone, '.git', 'shadow-integrator', 'scratch'), logger: silentLogger });
}

const EXPECTED: Record<ScenarioKey, { outcome: Evaluation['outcome']; reasons: string[]; conflicts?: [string, string][] }> = {
  clean: { outcome: 'would_integrate', reasons: [] },
  clean2: { outcome: 'would_integrate', reasons: [] },
  superseded_old: { outcome: 'would_integrate', reasons: [] },
  superseded_new: { outcome: 'would_integrate', reasons: [] },
  conflict_content: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/app.txt', 'contents']] },
  conflict_modify_delete: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/legacy.txt', 'modify/delete']] },
  conflict_add_add: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/new.txt', 'add/add']] },
  conflict_rename: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/rename-me.txt', 'rename/rename'], ['src/renamed-by-branch.txt', 'rename/rename'], ['src/renamed-by-main.txt', 'rename/rename']] },
  conflict_binary: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['assets/logo.bin', 'binary']] },
  conflict_file_directory: { outcome: 'would_block', reasons: ['merge_conflict'] },
  already_merged: { outcome: 'would_block', reasons: ['already_integrated'] },
  squashed: { outcome: 'would_block', reasons: ['already_integrated'] },
  not_on_remote: { outcome: 'would_block', reasons: ['sha_not_on_remote_branch'] },
};

describe('git engine on a fixture repository', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let clone: ReturnType<typeof snapshotRepo>;
  let origin: ReturnType<typeof snapshotRepo>;

  before(() => {
    fx = createFixture();
    installPushGuard(fx.origin);
    clone = snapshotRepo(fx.clone);
    origin = snapshotRepo(fx.origin);
  });
  after(() => fx.remove());

  for (const [key, want] of Object.entries(EXPECTED) as [ScenarioKey, (typeof EXPECTED)[ScenarioKey]][]) {
    test(`${key}: ${want.outcome} ${want.reasons.join(',')}`, async () => {
      const s = fx.scenarios[key];
      const got = await engineFor(fx)(s);
      assert.equal(got.outcome, want.outcome, got.message);
      assert.deepEqual(got.reasons, want.reasons);
      assert.equal(got.main_sha, fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main'));
      if (want.conflicts) assert.deepEqual(got.conflicts.map((c) => [c.path, c.kind]).sort(), [...want.conflicts].sort());
      if (key === 'conflict_file_directory') assert.ok(got.conflicts.some((c) => c.kind === 'file/directory' && c.path.startsWith('src/thing')), JSON.stringify(got.conflicts));
      if (want.outcome === 'would_integrate') {
        assert.equal(got.merge_base, fx.git(fx.clone, 'merge-base', 'refs/remotes/origin/main', s.sha));
        assert.match(got.merged_tree ?? '', /^[0-9a-f]{40}$/);
      } else assert.equal(got.merged_tree, null);
    });
  }

  test('the worktree engine (a real git merge) agrees with merge-tree on clean and conflicting candidates', async () => {
    const viaTree = engineFor(fx);
    const viaWorktree = engineFor(fx, { engine: 'worktree' });
    for (const key of ['clean', 'conflict_content', 'conflict_modify_delete', 'squashed'] as const) {
      const a = await viaTree(fx.scenarios[key]);
      const b = await viaWorktree(fx.scenarios[key]);
      assert.equal(b.outcome, a.outcome, key);
      assert.deepEqual(b.reasons, a.reasons, key);
      assert.equal(b.merged_tree, a.merged_tree, key);
      assert.deepEqual(b.conflicts.map((c) => c.path).sort(), a.conflicts.map((c) => c.path).sort(), key);
      assert.equal(b.engine, 'worktree');
    }
  });

  test('checks run on the would-be merge: passing, failing (with the tail of the output), timing out', async () => {
    const pass = await engineFor(fx, { checks: [{ name: 'has the feature', run: 'test -f feature/clean.txt && test -f README.md', timeout_seconds: 30 }] })(fx.scenarios.clean);
    assert.equal(pass.outcome, 'would_integrate', pass.message);
    const fail = await engineFor(fx, { checks: [{ name: 'unit', run: 'echo compiling; echo boom >&2; exit 3', timeout_seconds: 30 }] })(fx.scenarios.clean);
    assert.equal(fail.outcome, 'would_block');
    assert.deepEqual(fail.reasons, ['checks_failed']);
    assert.match(fail.message ?? '', /check "unit" exited 3/);
    assert.match(fail.message ?? '', /boom/);
    const slow = await engineFor(fx, { checks: [{ name: 'slow', run: 'sleep 30', timeout_seconds: 0.3 }] })(fx.scenarios.clean);
    assert.deepEqual(slow.reasons, ['checks_failed']);
    assert.match(slow.message ?? '', /timed out after 0.3 s/);
  });

  test('a branch or sha that tries option injection never reaches git as an option', async () => {
    const engine = engineFor(fx);
    for (const c of [
      { slug: 'x', branch: '--upload-pack=touch /tmp/pwned', sha: fx.scenarios.clean.sha },
      { slug: 'x', branch: 'agent/clean', sha: '--output=/tmp/pwned' },
      { slug: 'x', branch: '-c', sha: fx.scenarios.clean.sha },
    ]) {
      const got = await engine(c);
      assert.equal(got.outcome, 'would_block');
      assert.deepEqual(got.reasons, ['git_error']);
      assert.match(got.message ?? '', /refused/);
    }
  });

  test('a missing remote branch is not on its remote branch; a missing main fails closed with git_error', async () => {
    const gone = await engineFor(fx)({ slug: 'x', branch: 'agent/never-pushed', sha: fx.scenarios.clean.sha });
    assert.deepEqual(gone.reasons, ['sha_not_on_remote_branch']);
    assert.match(gone.message ?? '', /does not exist/);
    const noMain = await engineFor(fx, { main_branch: 'trunk' })(fx.scenarios.clean);
    assert.deepEqual(noMain.reasons, ['git_error']);
    const unknownSha = await engineFor(fx)({ slug: 'x', branch: 'agent/clean', sha: 'f'.repeat(40) });
    assert.deepEqual(unknownSha.reasons, ['git_error']);
  });

  test('zero writes: refs, reflogs, HEAD, index, worktree status and object stores of clone and origin are untouched, no push', () => {
    // Runs after every evaluation above (node:test runs a describe's tests in order).
    assert.deepEqual(diffSnapshots(clone, snapshotRepo(fx.clone)), []);
    assert.deepEqual(diffSnapshots(origin, snapshotRepo(fx.origin)), []);
    assert.deepEqual(pushAttempts(fx.origin), []);
  });
});

describe('fresh re-check at dequeue', { timeout: 120_000 }, () => {
  test('a branch force-pushed between READY and dequeue is no longer on its remote branch', async () => {
    const fx = createFixture();
    try {
      const engine = engineFor(fx);
      assert.equal((await engine(fx.scenarios.clean)).outcome, 'would_integrate');
      fx.forcePush('clean');
      const again = await engine(fx.scenarios.clean);
      assert.deepEqual(again.reasons, ['sha_not_on_remote_branch']);
      assert.match(again.message ?? '', /force-pushed/);
    } finally {
      fx.remove();
    }
  });

  test('fetch: true refreshes remote-tracking refs only, with an explicit refspec', async () => {
    const fx = createFixture();
    try {
      const heads = fx.git(fx.clone, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads');
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
      assert.equal(fx.git(fx.clone, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads'), heads, 'no local branch written');
    } finally {
      fx.remove();
    }
  });

  test('a live integration in the same repository is never blocked by a lock this tool takes', async () => {
    const fx = createFixture({ scenarios: true });
    try {
      const engine = engineFor(fx, { checks: [{ name: 'ok', run: 'true', timeout_seconds: 10 }] });
      let stop = false;
      const evaluations = (async () => {
        let n = 0;
        while (!stop) {
          await engine(fx.scenarios.clean);
          await engine(fx.scenarios.conflict_content);
          n += 2;
        }
        return n;
      })();
      // The live path: commit and push to main from the canonical worktree, many times.
      for (let i = 0; i < 15; i++) {
        fx.commit(fx.clone, { [`live/${i}.txt`]: `${i}\n` }, `live ${i}`);
        fx.push(fx.clone, 'HEAD:refs/heads/main');
        await new Promise((r) => setImmediate(r));
      }
      stop = true;
      assert.ok((await evaluations) > 0);
      assert.equal(fx.git(fx.clone, 'rev-list', '--count', 'refs/remotes/origin/main', '^HEAD~15'), '15');
    } finally {
      fx.remove();
    }
  });
});
