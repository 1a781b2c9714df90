/**
 * The scratch repository: a repository of its own that reads the canonical objects through
 * alternates, is no worktree of the canonical repository, and keeps whatever runs in it to itself.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { diffSnapshots, snapshotRepo } from '../../fixtures/snapshot.js';
import { createTemporaryObjects } from '../../src/git/objects.js';
import { openGit } from '../../src/git/runner.js';
import { checkoutTreeInScratch, createScratchRepository, isScratchRepository, mergeInScratch, removeScratch, resetScratch } from '../../src/git/scratch.js';
import { settings } from './support.js';

describe('on a fixture repository', () => {
  let fx: Fixture;
  let main: string;
  let stateDir: string;
  let scratch: string;
  before(() => {
    fx = createFixture();
    main = fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main');
    stateDir = join(fx.root, 'state');
    scratch = join(stateDir, 'scratch');
    mkdirSync(stateDir);
  });
  after(() => fx.remove());
  const handle = (objectDir: string) => openGit(scratch, settings(), { scratch, objectDir, alternates: [join(fx.clone, '.git', 'objects'), join(scratch, '.git', 'objects')] });

  test('made beside its place and renamed into it: a repository of its own, on main, reading the canonical objects', async () => {
    const before = snapshotRepo(fx.clone);
    createScratchRepository(scratch, join(fx.clone, '.git'), main);
    assert.equal(isScratchRepository(scratch), true);
    assert.equal(readFileSync(join(scratch, '.git', 'objects', 'info', 'alternates'), 'utf8'), `${join(fx.clone, '.git', 'objects')}\n`);
    const objects = createTemporaryObjects(stateDir);
    try {
      await resetScratch(handle(objects.dir), main);
      assert.equal(fx.git(scratch, 'rev-parse', 'HEAD'), main);
      assert.equal(fx.git(scratch, 'status', '--porcelain'), '');
      assert.equal(fx.git(scratch, 'config', 'core.hooksPath'), '/dev/null');
      assert.equal(fx.git(scratch, 'fsck', '--no-progress', '--no-dangling'), '');
    } finally {
      objects.remove();
    }
    assert.doesNotMatch(fx.git(fx.clone, 'worktree', 'list', '--porcelain'), /state/);
    assert.deepEqual(diffSnapshots(before, snapshotRepo(fx.clone)), []);
  });

  test('a real merge there: its objects in the temporary directory, its conflicts from the unmerged index', async () => {
    const objects = createTemporaryObjects(stateDir);
    try {
      const h = handle(objects.dir);
      await resetScratch(h, main);
      const clean = await mergeInScratch(h, fx.scenarios.clean.sha);
      assert.equal(clean.clean, true);
      assert.ok(existsSync(join(objects.dir, (clean.tree as string).slice(0, 2))), 'the merged tree is in the temporary directory');
      await resetScratch(h, main);
      const conflict = await mergeInScratch(h, fx.scenarios.conflict_binary.sha);
      assert.deepEqual(conflict.conflicts, [{ path: 'assets/logo.bin', kind: 'binary' }]);
      await resetScratch(h, main);
      assert.equal(existsSync(join(scratch, '.git', 'MERGE_HEAD')), false, 'no merge in progress after the reset');
      await checkoutTreeInScratch(h, clean.tree as string);
      assert.equal(readFileSync(join(scratch, 'feature', 'clean.txt'), 'utf8'), 'a new feature\n');
      await resetScratch(h, main);
      assert.equal(existsSync(join(scratch, 'feature', 'clean.txt')), false);
    } finally {
      objects.remove();
    }
  });

  test('deleted only when it is ours, empty, or the linked scratch worktree of an earlier version', () => {
    assert.deepEqual(removeScratch(scratch, join(fx.clone, '.git'), { ours: false }), { legacyWorktree: null });
    assert.equal(existsSync(scratch), false);

    mkdirSync(scratch);
    writeFileSync(join(scratch, 'precious.txt'), 'mine\n');
    assert.throws(() => removeScratch(scratch, join(fx.clone, '.git'), { ours: false }), { code: 'E_STATE_DIR' });
    assert.equal(readFileSync(join(scratch, 'precious.txt'), 'utf8'), 'mine\n');
    // Known to be ours (this process made it, then a check broke it): deleted.
    removeScratch(scratch, join(fx.clone, '.git'), { ours: true });
    assert.equal(existsSync(scratch), false);

    fx.git(fx.clone, 'worktree', 'add', '-q', '--detach', scratch, main);
    const { legacyWorktree } = removeScratch(scratch, join(fx.clone, '.git'), { ours: false });
    assert.equal(legacyWorktree, join(fx.clone, '.git', 'worktrees', 'scratch'));
    assert.equal(existsSync(scratch), false);
    assert.doesNotMatch(fx.git(fx.clone, 'worktree', 'list', '--porcelain'), /scratch/);
  });

  test('what a process that died while making one left beside it is swept by the next', () => {
    const leftover = `${scratch}.tmp-${hostname()}-999999999`;
    mkdirSync(join(leftover, '.git'), { recursive: true });
    createScratchRepository(scratch, join(fx.clone, '.git'), main);
    assert.equal(existsSync(leftover), false);
  });
});
