/** The guard: what it refuses before anything is spawned, and which values from events it lets through. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { assertAllowed, assertRev, assertSha, isValidBranchName, remoteRef, SCRATCH_MARKER, startsNoOtherProgram, type GuardedHandle } from '../../src/git/guard.js';

const SHA = 'a'.repeat(40);
const handle = (cwd: string, opts: Partial<GuardedHandle> = {}): GuardedHandle => ({ cwd, scratch: null, objectDir: null, ...opts });

describe('the allowlist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'si-guard-'));
  const scratch = join(dir, 'scratch');
  const repo = handle(dir, { scratch });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('refuses every write to refs, the remote, the canonical index or worktree, config and the object store', () => {
    for (const args of [
      ['push', 'origin', 'main'],
      ['update-ref', 'refs/heads/main', SHA],
      ['commit', '-m', 'x'],
      ['commit-tree', SHA],
      ['branch', 'x'],
      ['tag', 'v1'],
      ['gc'],
      ['repack', '-a'],
      ['prune'],
      ['config', 'user.name', 'x'],
      ['config', '--get', 'user.name'],
      ['checkout', 'main'],
      ['switch', 'main'],
      ['reset', '--hard'],
      ['merge', 'x'],
      ['read-tree', SHA],
      ['clean', '-fdx'],
      ['write-tree'],
      ['symbolic-ref', 'HEAD', 'refs/heads/x'],
      ['stash'],
      ['am'],
      ['notes', 'add'],
      ['replace', SHA, SHA],
      ['init', scratch],
      ['-c', 'core.hooksPath=x', 'push'],
      ['log', '--output=/tmp/si-pwned', 'HEAD'],
      ['diff-tree', '--output', '/tmp/si-pwned', SHA],
      ['merge-tree', '--write-tree', SHA, SHA],
      ['merge-tree', '--stdin'],
      ['commit-graph', 'write', '--reachable'],
      ['fetch', 'origin'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', 'main:main'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', '+refs/heads/x:refs/heads/x'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', '+refs/heads/x:refs/remotes/other/x'],
      ['fetch', '--end-of-options', 'origin', '+refs/heads/x:refs/remotes/origin/x'],
      ['fetch', '--no-write-fetch-head', '--upload-pack=touch /tmp/si-pwned', '--end-of-options', 'origin', '+refs/heads/x:refs/remotes/origin/x'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'ext::sh -c touch% /tmp/si-pwned', '+refs/heads/x:refs/remotes/origin/x'],
      ['worktree', 'add', '--detach', '--end-of-options', scratch, SHA],
      ['worktree', 'remove', '--force', join(dir, 'agents', 'alice')],
      ['worktree', 'prune'],
    ]) {
      assert.throws(() => assertAllowed(repo, args), { code: 'E_GIT_REFUSED' }, args.join(' '));
    }
  });

  test('allows reads, remote-tracking fetches, and object writes into a directory of the tool’s own', () => {
    const own = handle(dir, { objectDir: join(dir, 'tmp-objects') });
    for (const [h, args] of [
      [repo, ['cat-file', '--batch-check=%(objectname)']],
      [repo, ['merge-base', '--is-ancestor', '--end-of-options', SHA, 'refs/remotes/origin/main']],
      [repo, ['fetch', '--no-write-fetch-head', '--quiet', '--end-of-options', 'origin', '+refs/heads/a/b:refs/remotes/origin/a/b']],
      [own, ['merge-tree', '--stdin', '--name-only']],
      [own, ['commit-graph', 'write', '--reachable', '--split=replace', '--no-progress']],
    ] as const) {
      assert.doesNotThrow(() => assertAllowed(h, args), args.join(' '));
    }
    assert.throws(() => assertAllowed(own, ['commit-graph', 'write', '--reachable', '--object-dir', dir]), { code: 'E_GIT_REFUSED' });
  });

  test('index and worktree writes only with cwd = the scratch repository, and only when it carries the marker', () => {
    const objectDir = join(dir, 'tmp-objects');
    const inScratch = handle(scratch, { scratch, objectDir });
    const writes = [['reset', '--hard', SHA], ['read-tree', '--reset', '-u', SHA], ['merge', '--no-commit', SHA], ['clean', '-ffdxq'], ['write-tree']];
    mkdirSync(join(scratch, '.git'), { recursive: true });
    for (const args of writes) assert.throws(() => assertAllowed(inScratch, args), { code: 'E_GIT_REFUSED' }, `no marker yet: ${args.join(' ')}`);
    writeFileSync(join(scratch, '.git', SCRATCH_MARKER), '');
    for (const args of writes) {
      assert.doesNotThrow(() => assertAllowed(inScratch, args), args.join(' '));
      assert.throws(() => assertAllowed(handle(dir, { scratch, objectDir }), args), { code: 'E_GIT_REFUSED' }, `${args.join(' ')} in the repository`);
    }
    assert.throws(() => assertAllowed(handle(scratch, { scratch }), ['merge', '--no-commit', SHA]), { code: 'E_GIT_REFUSED' }, 'merge without an object directory of the tool’s own');
    // A linked worktree (a .git file) is never the scratch repository, whatever the handle claims.
    const linked = join(dir, 'linked');
    mkdirSync(linked);
    writeFileSync(join(linked, '.git'), `gitdir: ${join(dir, '.git', 'worktrees', 'linked')}\n`);
    assert.throws(() => assertAllowed(handle(linked, { scratch: linked, objectDir }), ['reset', '--hard', SHA]), { code: 'E_GIT_REFUSED' });
  });

  test('only calls that start no other program may run without a process group', () => {
    for (const args of [['version'], ['merge-base', SHA, SHA], ['log', '-z'], ['cat-file', '--batch-check'], ['commit-graph', 'write']]) assert.equal(startsNoOtherProgram(args), true, args.join(' '));
    for (const args of [['merge-tree', '--stdin'], ['fetch', 'origin'], ['merge', SHA], ['read-tree', '-u', SHA], ['reset', '--hard'], ['diff-tree', '-p'], ['log', '--output=x']]) assert.equal(startsNoOtherProgram(args), false, args.join(' '));
  });
});

test('values from events: full object ids, full ref names, valid branch and remote names only', () => {
  assert.equal(assertSha(SHA), SHA);
  assert.equal(assertSha('b'.repeat(64)), 'b'.repeat(64));
  for (const bad of ['HEAD', 'A'.repeat(40), 'a'.repeat(39), `-${'a'.repeat(39)}`, '--output=x']) assert.throws(() => assertSha(bad), { code: 'E_GIT_REFUSED' }, bad);
  assert.equal(assertRev('refs/remotes/origin/main'), 'refs/remotes/origin/main');
  for (const bad of ['origin/main', 'main', '--upload-pack=x', 'refs/../x']) assert.throws(() => assertRev(bad), { code: 'E_GIT_REFUSED' }, bad);
  assert.equal(remoteRef('origin', 'agent/a/b'), 'refs/remotes/origin/agent/a/b');
  assert.throws(() => remoteRef('--upload-pack=evil', 'main'), { code: 'E_GIT_REFUSED' });
  assert.throws(() => remoteRef('origin', '-c'), { code: 'E_GIT_REFUSED' });
});

test('branch names: git check-ref-format --branch rules, and never an option', () => {
  const valid = ['main', 'agent/alice/task-1', 'feature/x;rm', 'release/1.2.3', 'a@b', 'x/HEAD', 'a-', 'é'];
  const invalid = ['-x', '--upload-pack=evil', '-c', 'a..b', 'a/.b', '.a', 'a.lock', 'a/b.lock/c', 'a//b', '/a', 'a/', 'a.', 'a@{1}', '@{-1}', 'HEAD', 'a b', 'a\tb', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', 'a\x01b', 'a\x7fb', ''];
  for (const name of valid) assert.equal(isValidBranchName(name), true, name);
  for (const name of invalid) assert.equal(isValidBranchName(name), false, name);
  // git itself agrees on every one of them (outside a repository, so that @{-1} is not expanded).
  const cwd = mkdtempSync(join(tmpdir(), 'si-refname-'));
  try {
    for (const name of [...valid, ...invalid]) {
      const r = spawnSync('git', ['check-ref-format', '--branch', name], { cwd, encoding: 'utf8' });
      assert.equal(r.status === 0 && r.stdout.trim() === name, isValidBranchName(name), JSON.stringify(name));
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  // Stricter than git on one name: '@' alone is HEAD in revision syntax.
  assert.equal(isValidBranchName('@'), false);
});
