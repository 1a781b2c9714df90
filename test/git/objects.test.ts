/** Temporary object directories: under the state directory, named after their owner, swept when it is dead; kept and taken by rename; their loose objects read and checked. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import {
  adoptTemporaryObjects,
  createTemporaryObjects,
  isAlive,
  keepTemporaryObjects,
  looseClosure,
  objectDirBytes,
  readLooseObject,
  sweepTemporaryObjects,
  temporaryObjectsRoot,
  writeMergeCommit,
  type TemporaryObjects,
} from '../../src/git/objects.js';
import { git, gitResult } from '../support/index.js';

const stateDir = mkdtempSync(join(tmpdir(), 'si-objects-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));
/** A state directory with nothing of the other tests' in its tmp-objects/. */
const ownStateDir = () => mkdtempSync(join(stateDir, 'own-'));

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

test('a kept directory is taken by renaming it to the taker’s own name: of two takers one gets it whole, the other nothing; the sweep leaves it alone while the taker lives', () => {
  const stateDir = ownStateDir();
  const kept = join(stateDir, 'cache', 'stack', 'kept');
  mkdirSync(join(kept, 'ab'), { recursive: true });
  writeFileSync(join(kept, 'ab', 'cdef'), 'an object');
  writeFileSync(join(kept, 'stack.json'), '{}');
  const [first, second] = [adoptTemporaryObjects(stateDir, kept), adoptTemporaryObjects(stateDir, kept)];
  assert.ok(first);
  assert.equal(second, null, 'gone for the second taker');
  assert.deepEqual(readdirSync(first.dir).sort(), ['ab', 'stack.json'], 'the first has all of it');
  assert.equal(join(first.dir, '..'), temporaryObjectsRoot(stateDir));
  assert.match(basename(first.dir), new RegExp(`-${process.pid}-[0-9a-f]{8}$`), 'named after the taker');
  assert.deepEqual(sweepTemporaryObjects(stateDir), [], 'a live owner’s: not swept');
  assert.equal(existsSync(first.dir), true);
  first.remove();
});

test('keeping replaces the directory kept before: the newer one kept whole, no older one or leftover name in tmp-objects, and not swept', () => {
  const stateDir = ownStateDir();
  const kept = join(stateDir, 'cache', 'stack', 'kept');
  const objects = [createTemporaryObjects(stateDir), createTemporaryObjects(stateDir)];
  objects.forEach((o, i) => writeFileSync(join(o.dir, 'which'), String(i)));
  assert.equal(keepTemporaryObjects(stateDir, objects[0] as TemporaryObjects, kept), true);
  assert.equal(keepTemporaryObjects(stateDir, objects[1] as TemporaryObjects, kept), true);
  assert.equal(readFileSync(join(kept, 'which'), 'utf8'), '1', 'the newer one is kept');
  assert.deepEqual(readdirSync(temporaryObjectsRoot(stateDir)), [], 'neither the older one nor the newer one’s own name is left behind');
  assert.deepEqual(sweepTemporaryObjects(stateDir), []);
  assert.equal(existsSync(kept), true, 'outside tmp-objects/: never swept');
  rmSync(kept, { recursive: true });
});

test('readLooseObject and looseClosure: what a kept stack needs from its directory, each object checked against its id; objectDirBytes bounds it', () => {
  for (const format of ['sha1', 'sha256'] as const) {
    const r = forked(format);
    const objects = createTemporaryObjects(stateDir);
    const env = { GIT_OBJECT_DIRECTORY: objects.dir, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(r.dir, '.git', 'objects') };
    // A tree made in the directory (a new blob in a new subdirectory), and a commit of it.
    const blob = git(r.dir, ['hash-object', '-w', '--stdin'], { env, input: 'made here\n' });
    const sub = git(r.dir, ['mktree'], { env, input: `100644 blob ${blob}\tfile\n` });
    const tree = git(r.dir, ['mktree'], { env, input: `040000 tree ${sub}\tdir\n040000 tree ${r.tree}\told\n` });
    const commit = writeMergeCommit(objects.dir, { tree, parents: [r.ours, r.theirs], message: 'm', time: 1 });
    assert.deepEqual(readLooseObject(objects.dir, commit)?.type, 'commit');
    assert.deepEqual(looseClosure(objects.dir, [commit])?.sort(), [commit, tree, sub, blob].sort(), `${format}: the repository's objects are not followed`);
    assert.ok(objectDirBytes(objects.dir) > 0);
    assert.equal(objectDirBytes(join(objects.dir, 'gone')), 0);
    const file = join(objects.dir, blob.slice(0, 2), blob.slice(2));
    chmodSync(file, 0o644);
    writeFileSync(file, deflateSync(Buffer.from('blob 4\0evil')));
    assert.equal(readLooseObject(objects.dir, blob), null, 'content that is not the object it is named');
    assert.equal(looseClosure(objects.dir, [commit]), null);
    writeFileSync(file, 'not zlib');
    assert.equal(readLooseObject(objects.dir, blob), null, 'not an object at all');
    rmSync(file);
    assert.deepEqual(looseClosure(objects.dir, [commit])?.sort(), [commit, tree, sub].sort(), 'a missing one is taken for the repository’s: the caller compares with what it kept');
    assert.equal(readLooseObject(objects.dir, 'not an id'), null);
    objects.remove();
  }
});
