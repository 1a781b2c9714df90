/**
 * The zero-write proof as one check, for any test that runs the tool on a real repository: the
 * repository (and its origin, when it has one) snapshotted when the guard is made — refs, reflogs,
 * HEAD, index, objects, worktree status and list, config — with pushes to the origin refused and
 * recorded; `assertUntouched()` snapshots again and requires no difference, no push attempt and a
 * clean `git fsck` of both.
 */
import assert from 'node:assert/strict';
import { diffSnapshots, installPushGuard, pushAttempts, snapshotRepo } from '../../fixtures/snapshot.js';
import { git } from './env.js';

export interface CanonicalGuard {
  assertUntouched(): void;
}

export interface GuardOptions {
  /** The bare repository the canonical one pushes to and fetches from. */
  origin?: string;
  /** State directories the test gives the tool besides the default one (see `snapshotRepo`). */
  stateDirs?: readonly string[];
}

export function guardCanonical(repo: string, opts: GuardOptions = {}): CanonicalGuard {
  if (opts.origin !== undefined) installPushGuard(opts.origin);
  const snapshot = () => snapshotRepo(repo, { stateDirs: opts.stateDirs ?? [] });
  const before = snapshot();
  const origin = opts.origin === undefined ? null : { dir: opts.origin, before: snapshotRepo(opts.origin) };
  return {
    assertUntouched() {
      assert.deepEqual(diffSnapshots(before, snapshot()), [], `${repo} was written`);
      if (origin) {
        assert.deepEqual(diffSnapshots(origin.before, snapshotRepo(origin.dir)), [], `${origin.dir} was written`);
        assert.deepEqual(pushAttempts(origin.dir), [], 'a push reached the origin');
      }
      for (const dir of origin ? [repo, origin.dir] : [repo]) {
        const out = git(dir, ['fsck', '--no-progress', '--no-dangling']);
        assert.doesNotMatch(out, /missing|broken|error/i, `git fsck ${dir}: ${out}`);
      }
    },
  };
}
