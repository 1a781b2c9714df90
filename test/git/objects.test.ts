/** Temporary object directories: under the state directory, named after their owner, swept when it is dead. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { createTemporaryObjects, isAlive, sweepTemporaryObjects, temporaryObjectsRoot } from '../../src/git/objects.js';

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
