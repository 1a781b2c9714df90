/** Temporary object directories: under the state directory, named after their owner, swept when it is dead. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { createTemporaryObjects, isAlive, sweepTemporaryObjects, temporaryObjectsRoot, writeMergeCommit } from '../../src/git/objects.js';
import { git, gitResult } from '../support/index.js';

const stateDir = mkdtempSync(join(tmpdir(), 'si-objects-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

test('made under the state directory, named after this host and process, removed by its owner', () => {
  const objects = createTemporaryObjects(stateDir);
  assert.equal(join(objects.dir, '..'), temporaryObjectsRoot(stateDir));
  assert.match(basename(objects.dir), new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-${process.pid}-[0-9a-f]{8}$`));
  objects.remove();
  assert.equal(existsSync(objects.dir), false);
});

test('the next start removes those of dead processes of this host, and only those', () => {
  const dead = spawnSync('true').pid;
  assert.equal(isAlive(dead), false);
  const root = temporaryObjectsRoot(stateDir);
  const names = { dead: `${hostname()}-${dead}-0badc0de`, live: `${hostname()}-${process.pid}-0000beef`, otherHost: `not-${hostname()}-${dead}-12345678`, foreign: 'someone-elses' };
  for (const name of Object.values(names)) mkdirSync(join(root, name, 'ab'), { recursive: true });
  assert.deepEqual(sweepTemporaryObjects(stateDir), [join(root, names.dead)]);
  for (const name of [names.live, names.otherHost, names.foreign]) assert.equal(existsSync(join(root, name)), true, name);
  assert.deepEqual(sweepTemporaryObjects(join(stateDir, 'nothing-here')), []);
});

/** A repository with two commits that fork from a root, in the given object format. */
function forked(format: 'sha1' | 'sha256'): { dir: string; ours: string; theirs: string; tree: string } {
  const dir = mkdtempSync(join(tmpdir(), `si-commit-${format}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  git(dir, ['init', '-q', `--object-format=${format}`, '-b', 'main']);
  git(dir, ['commit', '-q', '--allow-empty', '-m', 'root']);
  git(dir, ['commit', '-q', '--allow-empty', '-m', 'ours']);
  const ours = git(dir, ['rev-parse', 'HEAD']);
  git(dir, ['checkout', '-q', '-b', 'side', 'HEAD~1']);
  git(dir, ['commit', '-q', '--allow-empty', '-m', 'theirs']);
  return { dir, ours, theirs: git(dir, ['rev-parse', 'HEAD']), tree: git(dir, ['rev-parse', 'HEAD^{tree}']) };
}

test('writeMergeCommit: a commit git reads back and names the same, in SHA-1 and SHA-256 repositories; equal inputs, equal commits', () => {
  for (const format of ['sha1', 'sha256'] as const) {
    const r = forked(format);
    const objects = createTemporaryObjects(stateDir);
    const input = { tree: r.tree, parents: [r.ours, r.theirs], message: 'merge theirs onto the stack', time: 1_700_000_000 };
    const id = writeMergeCommit(objects.dir, input);
    assert.equal(writeMergeCommit(objects.dir, input), id, 'deterministic');
    assert.notEqual(writeMergeCommit(objects.dir, { ...input, message: 'another' }), id);
    const env = { GIT_OBJECT_DIRECTORY: objects.dir, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(r.dir, '.git', 'objects') };
    const body = git(r.dir, ['cat-file', 'commit', id], { env });
    assert.equal(git(r.dir, ['hash-object', '-t', 'commit', '--stdin'], { input: `${body}\n` }), id, `${format}: git names it the same`);
    assert.equal(git(r.dir, ['log', '-1', '--format=%P %T %an <%ae> %at %ct %s', id], { env }), `${r.ours} ${r.theirs} ${r.tree} shadow-integrator <shadow-integrator@localhost> 1700000000 1700000000 merge theirs onto the stack`);
    // Usable as a merge's side: git finds the merge base through it.
    assert.equal(git(r.dir, ['merge-base', id, r.theirs], { env }), r.theirs);
    assert.notEqual(gitResult(r.dir, ['cat-file', '-e', id]).status, 0, 'not in the repository: only in the temporary directory');
    objects.remove();
  }
});

test('writeMergeCommit: refused outside a temporary object directory, and for a value that is not an object id', () => {
  const r = forked('sha1');
  const commit = { tree: r.tree, parents: [r.ours, r.theirs], message: 'm', time: 1 };
  assert.throws(() => writeMergeCommit(join(r.dir, '.git', 'objects'), commit), /E_GIT_REFUSED|not a temporary object directory/);
  const objects = createTemporaryObjects(stateDir);
  after(() => objects.remove());
  assert.throws(() => writeMergeCommit(objects.dir, { ...commit, parents: [r.ours, '--all'] }), /object id/);
  assert.throws(() => writeMergeCommit(objects.dir, { ...commit, time: -1 }), /commit time/);
});
