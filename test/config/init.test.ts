/**
 * `init` reads the canonical remote and its default branch from the repository — the remote's HEAD,
 * the only remote, or what the user says — verifies that the main ref exists, and writes them; it
 * never writes `main`/`origin` without looking. Real repositories made by `git clone`, with the
 * refs loose and packed.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { configTemplate, init } from '../../src/config/init.js';
import { findRepo, readRef, remoteBranches, remoteDefaultBranch, remotesOf } from '../../src/config/repo.js';
import type { ShadowError } from '../../src/contract/errors.js';
import type { InitResult } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import { cli, clonedRepo, git, testContext } from '../support/index.js';

const errorOf = (stdout: string) => (JSON.parse(stdout) as { error: { code: string; message: string; details: Record<string, unknown> } }).error;

describe('the config template', () => {
  test('is a valid config in shadow mode with every default spelled out, and the remote and branch it is given', () => {
    const data: unknown = parse(configTemplate({ remote: 'upstream', mainBranch: 'master', found: 'test' }));
    const spelled = structuredClone(data);
    assert.ok(validators.config(data));
    assert.deepEqual(data, spelled, 'the validator had no default left to fill');
    assert.deepEqual([(data as { mode: string }).mode, (data as { remote: string }).remote, (data as { main_branch: string }).main_branch], ['shadow', 'upstream', 'master']);
  });

  test('names that YAML would read as something else are quoted: they read back as the same strings', () => {
    for (const [remote, mainBranch] of [['true', '1.0'], ['null', 'no'], ['0x1', 'release/2.x']] as const) {
      const data = parse(configTemplate({ remote, mainBranch, found: 'test' })) as { remote: unknown; main_branch: unknown };
      assert.deepEqual([data.remote, data.main_branch], [remote, mainBranch]);
    }
  });

  test('points at a section of the README that exists', () => {
    const m = /in the README of\n# shadow-integrator, section "([^"]+)"/.exec(configTemplate({ remote: 'o', mainBranch: 'm', found: 'f' }));
    assert.ok(m, 'the template names a README section');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    assert.match(readme, new RegExp(`^#+ ${m[1] as string}$`, 'm'));
  });
});

describe('init reads the repository', () => {
  test('a clone whose remote is upstream and default branch master: writes those values, verified', async () => {
    const r = clonedRepo({ remote: 'upstream', branch: 'master' });
    const res = await cli(r.dir, ['init', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as InitResult;
    assert.deepEqual(
      [out.remote, out.remoteFrom, out.mainBranch, out.mainBranchFrom, out.mainRef, out.mainSha],
      ['upstream', 'only_remote', 'master', 'remote_head', 'refs/remotes/upstream/master', git(r.dir, ['rev-parse', 'refs/remotes/upstream/master'])],
    );
    const written = parse(readFileSync(r.configFile, 'utf8')) as { remote: string; main_branch: string };
    assert.deepEqual([written.remote, written.main_branch], ['upstream', 'master']);
    const config = await cli(r.dir, ['config', '--json']);
    assert.equal((JSON.parse(config.stdout) as { config: { remote: string } }).config.remote, 'upstream');
    const text = await cli(r.dir, ['init', '--force']);
    assert.match(text.stdout, /canonical main: refs\/remotes\/upstream\/master \([0-9a-f]{12}\): remote upstream \(the only remote\), main_branch master \(the remote's HEAD\)/);
  });

  test('refs packed by git pack-refs are read as well as loose ones', () => {
    const r = clonedRepo({ remote: 'upstream', branch: 'master' });
    git(r.dir, ['pack-refs', '--all']);
    const repo = findRepo(r.dir);
    assert.equal(existsSync(join(repo.commonDir, 'refs', 'remotes', 'upstream', 'master')), false, 'the ref is packed now');
    assert.equal(readRef(repo, 'refs/remotes/upstream/master').sha, git(r.dir, ['rev-parse', 'refs/remotes/upstream/master']));
    assert.deepEqual(remoteBranches(repo, 'upstream'), ['master']);
    assert.equal(remoteDefaultBranch(repo, 'upstream'), 'master');
    assert.equal(init(testContext({ cwd: r.dir }), {}).mainBranch, 'master');
  });

  test('several remotes: the only one with a HEAD; two with a HEAD is a usage error listing them, and --remote decides', async () => {
    const r = clonedRepo({ remote: 'upstream', branch: 'master' });
    git(r.dir, ['remote', 'add', 'fork', r.bare]);
    git(r.dir, ['fetch', '-q', 'fork']);
    assert.deepEqual(remotesOf(findRepo(r.dir)), ['upstream', 'fork']);
    assert.equal(init(testContext({ cwd: r.dir }), {}).remote, 'upstream', 'fork has no HEAD: upstream is the only one with one');

    git(r.dir, ['remote', 'set-head', 'fork', 'master']);
    const res = await cli(r.dir, ['init', '--force', '--json']);
    assert.equal(res.code, 2);
    const e = errorOf(res.stdout);
    assert.equal(e.code, 'E_REMOTE_UNKNOWN');
    assert.match(e.message, /2 remotes \(upstream \(HEAD → master\), fork \(HEAD → master\)\).*pass --remote NAME/);
    const chosen = await cli(r.dir, ['init', '--force', '--remote', 'fork', '--json']);
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.deepEqual([(JSON.parse(chosen.stdout) as InitResult).remote, (JSON.parse(chosen.stdout) as InitResult).remoteFrom], ['fork', 'option']);
  });

  test('a remote without a HEAD (added by hand, then fetched): the branches it has, and --main-branch', async () => {
    const r = clonedRepo({ branch: 'trunk' });
    git(r.dir, ['remote', 'set-head', 'origin', '--delete']);
    const res = await cli(r.dir, ['init', '--json']);
    assert.equal(res.code, 2);
    const e = errorOf(res.stdout);
    assert.equal(e.code, 'E_MAIN_BRANCH_UNKNOWN');
    assert.match(e.message, /origin has no HEAD \(refs\/remotes\/origin\/HEAD\).*git remote set-head origin --auto, or pass --main-branch BRANCH \(branches of origin fetched here: trunk\)/);
    assert.equal(existsSync(r.configFile), false, 'nothing written');
    const given = await cli(r.dir, ['init', '--main-branch', 'trunk', '--json']);
    assert.equal(given.code, 0, given.stderr);
    assert.deepEqual([(JSON.parse(given.stdout) as InitResult).mainBranch, (JSON.parse(given.stdout) as InitResult).mainBranchFrom], ['trunk', 'option']);
  });

  test('a main branch that is not there, an unknown --remote, no remote at all: exit 2, nothing written', async () => {
    const r = clonedRepo();
    const cases: [string[], string, RegExp][] = [
      [['--main-branch', 'mian'], 'E_MAIN_BRANCH_UNKNOWN', /refs\/remotes\/origin\/mian does not exist: fetch it \(git fetch origin\), or pass --main-branch BRANCH \(branches of origin fetched here: main\)/],
      [['--remote', 'upstream'], 'E_REMOTE_UNKNOWN', /--remote upstream is not a remote of this repository \(its remotes: origin \(HEAD → main\)\)/],
      [['--main-branch', '-bad'], 'E_OPTION_INVALID', /--main-branch "-bad" is not valid/],
    ];
    for (const [args, code, says] of cases) {
      const res = await cli(r.dir, ['init', ...args, '--json']);
      assert.equal(res.code, 2, args.join(' '));
      assert.equal(errorOf(res.stdout).code, code, args.join(' '));
      assert.match(errorOf(res.stdout).message, says);
    }
    git(r.dir, ['remote', 'remove', 'origin']);
    assert.throws(() => init(testContext({ cwd: r.dir }), {}), (e: ShadowError) => e.code === 'E_REMOTE_UNKNOWN' && /has no remote: add the canonical one/.test(e.message));
    assert.equal(existsSync(r.configFile), false);
  });

  test('refuses to clobber (exit 2, content unchanged); --force overwrites', async () => {
    const r = clonedRepo();
    const first = init(testContext({ cwd: r.dir }), {});
    assert.deepEqual([first.file, first.overwritten, first.stateDir], [r.configFile, false, r.paths.dir]);
    assert.ok(existsSync(r.paths.dir), 'the state directory is created');
    const template = readFileSync(r.configFile, 'utf8');
    const again = await cli(r.dir, ['init']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists; pass --force to overwrite it/);
    assert.equal(readFileSync(r.configFile, 'utf8'), template);
    assert.equal(init(testContext({ cwd: r.dir }), { force: true }).overwritten, true);
  });
});
