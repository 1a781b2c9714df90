/**
 * The merge directory's attributes cache (cache/attributes.json) on a real fixture repository: a new
 * process (a new MergeDirectory) on the same main reads no tree, on a main that moved reads only the
 * directories that changed, and holds exactly the files a read from nothing holds; a cache whose
 * contents are not the blobs it names, or that is not valid, is ignored and the tree read whole.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { attributesCachePath, MergeDirectory } from '../../src/git/attributes.js';
import { CatFileBatch } from '../../src/git/batch.js';
import { openGit } from '../../src/git/runner.js';
import { silentLogger } from '../../src/context.js';
import { settings } from './support.js';

/** Every file below `dir`, by relative path, with its contents. */
function filesBelow(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out[relative(dir, join(d, e.name))] = readFileSync(join(d, e.name), 'utf8');
    }
  };
  walk(dir);
  return out;
}

describe('the merge directory keeps the tree it read for the next process', () => {
  let fx: Fixture;
  let stateDir: string;
  let first: string;
  let moved: string;
  before(() => {
    fx = createFixture({ scenarios: false, agents: [] });
    stateDir = mkdtempSync(join(fx.root, 'state-'));
    const files: Record<string, string> = { '.gitattributes': '*.txt merge=union\n', 'docs/.gitattributes': '*.md -merge\n' };
    for (let i = 0; i < 20; i++) files[`area${i}/deep/file.txt`] = `${i}\n`;
    first = fx.commit(fx.clone, files, 'attributes and twenty directories');
    moved = fx.commit(fx.clone, { 'area3/deep/.gitattributes': '*.bin binary\n', 'area7/deep/file.txt': 'seven\n' }, 'two directories change');
  });
  after(() => fx.remove());

  /** A new MergeDirectory (as a new process makes one) prepared on `commit`; how many objects it read. */
  async function prepareFresh(commit: string, cache: boolean): Promise<{ files: Record<string, string>; objectsRead: number }> {
    const dir = mkdtempSync(join(fx.root, 'merge-dir-'));
    const batch = new CatFileBatch(openGit(fx.clone, settings()));
    let objectsRead = 0;
    const read = batch.objects.bind(batch);
    batch.objects = (oids) => ((objectsRead += oids.length), read(oids));
    try {
      await new MergeDirectory(dir, true, cache ? { file: attributesCachePath(stateDir), logger: silentLogger } : null).prepare(batch, commit);
    } finally {
      await batch.close();
    }
    return { files: filesBelow(dir), objectsRead };
  }

  test('the same main: the files a read from nothing gives, and no tree read', async () => {
    const scratch = await prepareFresh(first, false);
    assert.deepEqual(Object.keys(scratch.files).sort(), ['.gitattributes', 'docs/.gitattributes']);
    assert.ok(scratch.objectsRead > 40, `a read from nothing reads every directory (${scratch.objectsRead})`);
    await prepareFresh(first, true);
    const again = await prepareFresh(first, true);
    assert.deepEqual(again, { files: scratch.files, objectsRead: 0 });
  });

  test('main moved: only the directories on the way to what changed are read, and the files are the new main’s', async () => {
    const scratch = await prepareFresh(moved, false);
    assert.equal(scratch.files['area3/deep/.gitattributes'], '*.bin binary\n');
    const cached = await prepareFresh(moved, true);
    assert.deepEqual(cached.files, scratch.files);
    // root, area3, area3/deep, area7, area7/deep and the new .gitattributes blob.
    assert.equal(cached.objectsRead, 6);
    assert.equal((await prepareFresh(moved, true)).objectsRead, 0, 'and the cache now holds the new main');
  });

  test('a cache whose contents are not the blob they name, or that is not valid, is ignored: the tree is read whole', async () => {
    const file = attributesCachePath(stateDir);
    const good = readFileSync(file, 'utf8');
    const tampered = JSON.parse(good) as { dirs: { attributes: { base64: string } | null }[] };
    const root = tampered.dirs[0]?.attributes;
    assert.ok(root);
    root.base64 = Buffer.from('* merge=ours\n').toString('base64');
    for (const contents of [JSON.stringify(tampered), '{"schema_version": 1, "dirs": [{"path": "x/"}]}', '{ torn']) {
      writeFileSync(file, contents);
      const r = await prepareFresh(moved, true);
      assert.equal(r.files['.gitattributes'], '*.txt merge=union\n');
      assert.ok(r.objectsRead > 40, `read whole (${r.objectsRead})`);
    }
  });
});
