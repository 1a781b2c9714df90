/**
 * merge-tree --stdin on real merges: the records read as git's one-shot merge-tree answers them, the
 * objects only in the temporary directory, one bad pair failing only itself, a hung merge bounded —
 * and, given a git ≥ 2.49 (SHADOW_INTEGRATOR_TEST_GIT_DIR), one process serving call after call.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, SCENARIO_KEYS, type Fixture } from '../../fixtures/repo.js';
import { MergeTrees, type MergePair } from '../../src/git/merge.js';
import { parseMergeTreeStdin } from '../../src/git/parse.js';
import { openGit, type GitSettings } from '../../src/git/runner.js';
import { childrenRunning, gitSpy, gone, testEnv, waitFor } from '../support/index.js';
import { settings } from './support.js';

describe('on a fixture repository', () => {
  let fx: Fixture;
  let objects: string;
  let main: string;
  before(() => {
    fx = createFixture();
    objects = mkdtempSync(join(tmpdir(), 'si-merge-objects-'));
    main = fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main');
  });
  after(() => {
    fx.remove();
    rmSync(objects, { recursive: true, force: true });
  });
  const merges = (s: Partial<GitSettings> = {}, longLived = false) => new MergeTrees(openGit(fx.clone, settings(s), { objectDir: objects, alternates: [join(fx.clone, '.git', 'objects')] }), longLived);
  const gitEnv = testEnv();
  const oneShot = (ours: string, theirs: string) => {
    const r = spawnSync('git', ['merge-tree', '--write-tree', '-z', '--name-only', ours, theirs], { cwd: fx.clone, encoding: 'utf8', env: { ...gitEnv, GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(fx.clone, '.git', 'objects') } });
    return { clean: r.status === 0, tree: r.stdout.split('\0')[0] };
  };

  test('every scenario in one process: the same clean flag and tree as one-shot merge-tree --write-tree, objects only in the temporary directory', async () => {
    const spy = gitSpy();
    const pairs: MergePair[] = SCENARIO_KEYS.filter((k) => k !== 'not_on_remote').map((k) => [main, fx.scenarios[k].sha]);
    const got = await merges({ env: testEnv(spy.env) }).merge(pairs);
    assert.deepEqual(spy.calls(), ['merge-tree']);
    pairs.forEach(([ours, theirs], i) => {
      const r = got[i];
      assert.ok(r?.ok, theirs);
      const want = oneShot(ours, theirs);
      assert.equal(r.result.clean, want.clean, theirs);
      if (want.clean) assert.equal(r.result.tree, want.tree, theirs);
      else assert.ok(r.result.conflicts.length > 0, theirs);
    });
    const clean = got[0]?.ok ? got[0].result.tree : null;
    const has = (env: NodeJS.ProcessEnv) => spawnSync('git', ['cat-file', '-e', clean as string], { cwd: fx.clone, env: { ...testEnv(), ...env } }).status === 0;
    assert.equal(has({ GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(fx.clone, '.git', 'objects') }), true, 'in the temporary directory');
    assert.equal(has({}), false, 'not in the repository');
  });

  test('a bad pair in the middle fails only itself: the ones before stand, the ones after go to a new process', async () => {
    const spy = gitSpy();
    const orphan = fx.git(fx.clone, 'commit-tree', '-m', 'orphan', `${main}^{tree}`);
    const got = await merges({ env: testEnv(spy.env) }).merge([
      [main, fx.scenarios.clean.sha],
      [main, 'f'.repeat(40)],
      [main, fx.scenarios.conflict_content.sha],
      [main, orphan],
      [main, fx.scenarios.clean2.sha],
    ]);
    assert.deepEqual(
      got.map((r) => (r.ok ? r.result.clean : r.error.code)),
      [true, 'E_GIT_FAILED', false, 'E_GIT_FAILED', true],
    );
    assert.match(got[1]?.ok === false ? got[1].error.message : '', /not something we can merge/);
    assert.match(got[3]?.ok === false ? got[3].error.message : '', /unrelated histories/);
    assert.deepEqual(spy.calls(), ['merge-tree', 'merge-tree', 'merge-tree']);
    await assert.rejects(merges().merge([[main, '--output=x']]), { code: 'E_GIT_REFUSED' });
    await assert.rejects(new MergeTrees(openGit(fx.clone, settings()), false).merge([[main, main]]), { code: 'E_GIT_REFUSED' }, 'no object directory of the tool’s own');
  });

  test('a merge driver that never returns: E_GIT_TIMEOUT for its pair, the driver killed with its git', async () => {
    const pids = join(fx.root, 'driver.pids');
    const global = join(fx.root, 'hang.gitconfig');
    const attributes = join(fx.root, 'hang.attributes');
    writeFileSync(attributes, 'src/app.txt merge=hang\n');
    writeFileSync(global, `[core]\n\tattributesFile = ${attributes}\n[merge "hang"]\n\tdriver = "echo $$ >> ${pids}; exec sleep 600"\n`);
    const [hung, next] = await merges({ env: { ...testEnv(), GIT_CONFIG_GLOBAL: global }, timeoutSeconds: 0.5 }).merge([
      [main, fx.scenarios.conflict_content.sha],
      [main, fx.scenarios.clean.sha],
    ]);
    assert.equal(hung?.ok === false && hung.error.code, 'E_GIT_TIMEOUT');
    assert.equal(next?.ok && next.result.clean, true, 'the pair after it is merged by a new process');
    const driver = Number(readFileSync(pids, 'utf8'));
    await waitFor(() => gone(driver), 'the driver to die with its git');
  });

  const newGit = process.env.SHADOW_INTEGRATOR_TEST_GIT_DIR;
  const newEnough = newGit !== undefined && existsSync(join(newGit, 'git')) && /git version (2\.(49|[5-9]\d)|[3-9])/.test(execFileSync(join(newGit, 'git'), ['version'], { encoding: 'utf8' }));
  test('git ≥ 2.49: one long-lived process answers call after call, and is replaced when it dies', { skip: newEnough ? false : 'set SHADOW_INTEGRATOR_TEST_GIT_DIR to the bin directory of a git ≥ 2.49' }, async () => {
    const env = { ...testEnv(), PATH: `${newGit}:${testEnv().PATH ?? ''}` };
    const m = merges({ env }, true);
    try {
      const first = await m.merge([[main, fx.scenarios.clean.sha]]);
      const second = await m.merge([[main, fx.scenarios.conflict_content.sha], [main, 'f'.repeat(40)], [main, fx.scenarios.clean2.sha]]);
      assert.deepEqual([...first, ...second].map((r) => (r.ok ? r.result.clean : r.error.code)), [true, false, 'E_GIT_FAILED', true]);
      const pidsNow = childrenRunning('merge-tree --stdin').filter((pid) => !gone(pid));
      assert.equal(pidsNow.length, 1, 'one process stays');
      process.kill(pidsNow[0] as number, 'SIGKILL');
      await waitFor(() => gone(pidsNow[0] as number), 'the killed merge-tree to go');
      assert.equal((await m.merge([[main, fx.scenarios.clean.sha]]))[0]?.ok, true);
    } finally {
      await m.close();
    }
  });

  test('parsed from git’s own bytes: a record per merge, nothing left over', () => {
    const input = `${main} ${fx.scenarios.clean.sha}\n${main} ${fx.scenarios.conflict_rename.sha}\n`;
    const out = execFileSync('git', ['merge-tree', '--stdin', '--name-only'], { cwd: fx.clone, input, env: { ...gitEnv, GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(fx.clone, '.git', 'objects') } });
    const { results, consumed } = parseMergeTreeStdin(out);
    assert.equal(consumed, out.length);
    assert.deepEqual(results.map((r) => r.clean), [true, false]);
    assert.deepEqual(results[1]?.conflicts.map((c) => c.kind), ['rename/rename', 'rename/rename', 'rename/rename']);
  });
});
