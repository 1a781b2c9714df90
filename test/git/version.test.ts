/** `git version`, asked once per git binary: kept per process and in a cache file keyed by the binary. */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openGit } from '../../src/git/runner.js';
import { gitBinaryKey, gitVersion } from '../../src/git/version.js';
import { silentLogger } from '../../src/context.js';
import { gitSpy, testEnv } from '../support/index.js';
import { settings } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'si-version-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('asked once per process, then from memory; another process finds it in the cache file; a changed binary is asked again', async () => {
  const cache = { file: join(dir, 'cache', 'git-version.json'), logger: silentLogger };
  const spy = gitSpy();
  const h = openGit(dir, settings({ env: testEnv(spy.env) }));
  assert.match(await gitVersion(h, cache), /^\d+\.\d+/);
  assert.match(await gitVersion(h, cache), /^\d+\.\d+/);
  assert.deepEqual(spy.calls(), ['version']);
  // A process that has not asked yet: a new binary (a new spy) whose answer is in the cache file.
  const next = gitSpy();
  const fresh = openGit(dir, settings({ env: testEnv(next.env) }));
  writeFileSync(cache.file, JSON.stringify({ schema_version: 1, binary: gitBinaryKey(fresh.env), version: '2.40.1' }));
  assert.equal(await gitVersion(fresh, cache), '2.40.1');
  assert.deepEqual(next.calls(), [], 'answered from the cache file');
  // The binary changes (an upgrade): its key changes, git is asked again.
  appendFileSync(join(next.env.PATH.split(':')[0] as string, 'git'), '# upgraded\n');
  assert.notEqual(await gitVersion(fresh, cache), '2.40.1');
  assert.deepEqual(next.calls(), ['version']);
});

test('an unreadable or off-schema cache file, or one that names a git too old, is only a miss: git is asked', async () => {
  const cache = { file: join(dir, 'broken.json'), logger: silentLogger };
  const records = [
    () => '{not json',
    (key: string | null) => JSON.stringify({ binary: key, version: '2.40.1' }),
    (key: string | null) => JSON.stringify({ schema_version: 1, binary: key, version: 'two' }),
    (key: string | null) => JSON.stringify({ schema_version: 1, binary: key, version: '2.37.0' }),
  ];
  for (const write of records) {
    const spy = gitSpy();
    const h = openGit(dir, settings({ env: testEnv(spy.env) }));
    writeFileSync(cache.file, write(gitBinaryKey(h.env)));
    assert.match(await gitVersion(h, cache), /^\d+\.\d+/);
    assert.deepEqual(spy.calls(), ['version']);
  }
});
