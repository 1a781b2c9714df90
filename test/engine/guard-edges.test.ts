/**
 * Two ways the canonical repository could still be written, on real fixtures:
 * - a merge driver of the user's, run by `git merge-tree`: git writes the driver's temporary files in
 *   its current directory and leaves them when it is killed — so merge-tree runs in a directory of the
 *   tool's own, and still merges with the repository's attributes as a plain merge-tree in the
 *   canonical worktree does;
 * - what a hostile check leaves in the scratch repository's git directory (refs, a stash, config,
 *   hooks, alternates, a skip-worktree index): the next candidate's checks and the tool's own git there
 *   never see it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture, type ScenarioBranch } from '../../fixtures/repo.js';
import { pushBranches } from '../../fixtures/candidates.js';
import type { ResolvedConfig } from '../../src/config/config.js';
import { systemTimers, type Timers } from '../../src/context.js';
import { createEngine, type Engine } from '../../src/engine/evaluate.js';
import { treeChanges } from '../../src/git/changes.js';
import { createTemporaryObjects } from '../../src/git/objects.js';
import { openGit, startGit } from '../../src/git/runner.js';
import { fakeTimers, gone, guardCanonical, testEnv, waitFor } from '../support/index.js';

type EngineConfig = Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks' | 'git_timeout_seconds'>;
const BASE: EngineConfig = { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [], git_timeout_seconds: 120 };

const engines: Engine[] = [];
after(() => Promise.all(engines.map((e) => e.close())));

const stateDirOf = (fx: Fixture) => join(fx.clone, '.git', 'shadow-integrator');

function engineFor(fx: Fixture, config: Partial<EngineConfig>, opts: { stateDir?: string; timers?: Timers; log?: (event: string, fields: Record<string, unknown>) => void } = {}): Engine {
  const engine = createEngine({
    repoDir: fx.clone,
    commonDir: join(fx.clone, '.git'),
    stateDir: opts.stateDir ?? stateDirOf(fx),
    config: { ...BASE, ...config },
    env: testEnv(),
    timers: opts.timers ?? systemTimers,
    now: () => new Date(),
    logger: { log: (_level, event, fields = {}) => opts.log?.(event, fields) },
  });
  engines.push(engine);
  return engine;
}

/** Every file below `dir` whose name starts with `.merge_file_`. */
function mergeFilesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => p.split('/').pop()?.startsWith('.merge_file_'));
}

describe('merge attributes and merge drivers: merge-tree runs in a directory of the tool’s own', () => {
  let fx: Fixture;
  let cands: Record<string, ScenarioBranch>;
  const script = (name: string) => join(fx.root, name);

  before(() => {
    fx = createFixture({ agents: ['a'], scenarios: false });
    const lines = (middle: string) => `a\n${middle}\nc\n`;
    const files = ['union.txt', 'nomerge.txt', 'data.txt', 'driver.txt', 'sub/notes.txt', 'plain.txt', 'hang.txt'];
    // The driver "pick" takes the candidate's side (a clean merge); "hang" records where it runs and
    // what is there, then blocks on a FIFO nobody writes: it never returns unless killed.
    writeFileSync(script('hang.sh'), `#!/bin/sh\npwd > "${script('hang.cwd')}"\nls -a > "${script('hang.ls')}"\necho $$ > "${script('hang.pid')}"\nexec cat "${script('hang.fifo')}"\n`);
    chmodSync(script('hang.sh'), 0o755);
    assert.equal(spawnSync('mkfifo', [script('hang.fifo')]).status, 0, 'mkfifo');
    fx.git(fx.clone, 'config', 'merge.pick.driver', 'cat %B > %A');
    fx.git(fx.clone, 'config', 'merge.hang.driver', `${script('hang.sh')} %O %A %B`);
    const base = fx.commit(
      fx.clone,
      {
        '.gitattributes': 'union.txt merge=union\nnomerge.txt -merge\ndata.txt binary\ndriver.txt merge=pick\nhang.txt merge=hang\n',
        'sub/.gitattributes': '*.txt merge=union\n',
        ...Object.fromEntries(files.map((f) => [f, lines('b')])),
      },
      'attributes',
    );
    fx.commit(fx.clone, Object.fromEntries(files.map((f) => [f, lines('main')])), 'main changes every file');
    fx.push(fx.clone, 'HEAD:refs/heads/main');
    const made = pushBranches(
      fx,
      base,
      files.map((f) => ({ slug: f.replace(/\W/g, '-'), files: { [f]: lines('candidate') } })),
    );
    cands = Object.fromEntries(files.map((f, i) => [f, made[i] as ScenarioBranch]));
  });
  after(() => fx.remove());

  /** Each candidate's verdict from `engine`, checked against a plain merge-tree in the canonical worktree (on main). */
  async function sameAsPlainMergeTree(engine: Engine, files: readonly string[]): Promise<Record<string, string>> {
    const main = fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main');
    assert.equal(fx.git(fx.clone, 'rev-parse', 'HEAD'), main, 'the canonical worktree is on main');
    const verdicts: Record<string, string> = {};
    for (const file of files) {
      const c = cands[file] as ScenarioBranch;
      const plain = spawnSync('git', ['merge-tree', '--write-tree', '--name-only', main, c.sha], { cwd: fx.clone, env: testEnv(), encoding: 'utf8' });
      const [tree, ...rest] = plain.stdout.split('\n');
      const got = await engine.evaluate(c);
      if (plain.status === 0) {
        assert.equal(got.outcome, 'would_integrate', `${file}: ${got.message ?? ''}`);
        assert.equal(got.merged_tree, tree, file);
      } else {
        assert.equal(plain.status, 1, plain.stderr);
        assert.deepEqual(got.reasons, ['merge_conflict'], file);
        assert.deepEqual(
          got.conflicts.map((x) => x.path),
          rest.slice(0, rest.indexOf('')),
          file,
        );
      }
      verdicts[file] = got.outcome;
    }
    return verdicts;
  }

  test('union, -merge, binary, a driver, a nested .gitattributes: the same verdict and tree as a plain git merge-tree in the canonical worktree, also once main changed them', async () => {
    const engine = engineFor(fx, {});
    const verdicts = await sameAsPlainMergeTree(engine, ['union.txt', 'nomerge.txt', 'data.txt', 'driver.txt', 'sub/notes.txt', 'plain.txt']);
    // The attributes were honoured (a text merge of each would conflict, as plain.txt does).
    assert.deepEqual(verdicts, {
      'union.txt': 'would_integrate',
      'nomerge.txt': 'would_block',
      'data.txt': 'would_block',
      'driver.txt': 'would_integrate',
      'sub/notes.txt': 'would_integrate',
      'plain.txt': 'would_block',
    });
    // Main changes its attributes (the nested file); the same warm engine reads only what changed.
    fx.commit(fx.clone, { 'sub/.gitattributes': null, '.gitattributes': `${readFileSync(join(fx.clone, '.gitattributes'), 'utf8')}plain.txt merge=union\n` }, 'attributes change');
    fx.push(fx.clone, 'HEAD:refs/heads/main');
    assert.deepEqual(await sameAsPlainMergeTree(engine, ['sub/notes.txt', 'plain.txt', 'union.txt']), { 'sub/notes.txt': 'would_block', 'plain.txt': 'would_integrate', 'union.txt': 'would_integrate' });
  });

  test('a merge driver killed at git_timeout_seconds leaves nothing in the canonical worktree: zero writes, untracked files included', async () => {
    const guard = guardCanonical(fx.clone, { origin: fx.origin, stateDirs: [join(fx.clone, '.git', 'shadow-integrator-hang')] });
    const timers = fakeTimers();
    // A state directory of its own, so that the commit-graph record below is this engine's.
    const stateDir = join(fx.clone, '.git', 'shadow-integrator-hang');
    const engine = engineFor(fx, { git_timeout_seconds: 7 }, { timers, stateDir });
    assert.equal((await engine.evaluate(cands['union.txt'] as ScenarioBranch)).outcome, 'would_integrate');
    // The commit-graph refresh the first candidate started runs in the background, on these timers too.
    await waitFor(() => existsSync(join(stateDir, 'cache', 'commit-graph.json')), 'the commit-graph refresh');

    const hung = engine.evaluate(cands['hang.txt'] as ScenarioBranch);
    await waitFor(() => existsSync(script('hang.pid')) && readFileSync(script('hang.pid'), 'utf8').endsWith('\n'), 'the driver to start');
    const cwd = readFileSync(script('hang.cwd'), 'utf8').trim();
    assert.match(relative(fx.clone, cwd), /^\.git\/shadow-integrator-hang\/tmp-objects\//, `the driver runs in the state directory, not in the canonical worktree (${cwd})`);
    assert.match(readFileSync(script('hang.ls'), 'utf8'), /\.merge_file_/, 'git wrote its temporary files where the driver runs');
    assert.match(readFileSync(script('hang.ls'), 'utf8'), /^\.gitattributes$/m, 'beside main’s attributes');
    // Only now does git_timeout_seconds pass: the driver was running, whatever the machine's speed.
    timers.advance(7000);
    const got = await hung;
    assert.deepEqual(got.reasons, ['git_error']);
    assert.match(got.message ?? '', /did not finish within 7 s/);
    const pid = Number(readFileSync(script('hang.pid'), 'utf8'));
    await waitFor(() => gone(pid), 'the driver to die with its git');

    assert.deepEqual(mergeFilesUnder(stateDir), [], 'its temporary files are gone from the tool’s directory too');
    assert.equal((await engine.evaluate(cands['driver.txt'] as ScenarioBranch)).outcome, 'would_integrate', 'the next candidate is decided');
    await engine.close();
    assert.deepEqual(mergeFilesUnder(fx.clone), []);
    guard.assertUntouched();
  });
});

describe('ending a long-lived git is bounded too', () => {
  let fx: Fixture;
  const script = (name: string) => join(fx.root, name);
  before(() => {
    fx = createFixture({ agents: ['a'], scenarios: false });
    writeFileSync(script('hang.sh'), `#!/bin/sh\necho $$ > "${script('hang.pid')}"\nexec cat "${script('hang.fifo')}"\n`);
    chmodSync(script('hang.sh'), 0o755);
    assert.equal(spawnSync('mkfifo', [script('hang.fifo')]).status, 0, 'mkfifo');
    fx.git(fx.clone, 'config', 'merge.hang.driver', `${script('hang.sh')} %O %A %B`);
  });
  after(() => fx.remove());

  test('a merge-tree --stdin whose merge driver never returns once its stdin is closed: killed at git_timeout_seconds with its group, driver included', { timeout: 60_000 }, async () => {
    const base = fx.git(fx.clone, 'rev-parse', 'HEAD');
    const theirs = fx.branchFrom(base, 'agent/hang', { 'hang.txt': 'theirs\n' }, 'theirs');
    fx.git(fx.clone, 'checkout', '-q', '-B', 'hang-main', base);
    const ours = fx.commit(fx.clone, { 'hang.txt': 'ours\n' }, 'ours');
    // merge-tree on git 2.39 reads .gitattributes from its working directory: one of the test's own.
    const cwd = script('merge-dir');
    spawnSync('mkdir', ['-p', cwd]);
    writeFileSync(join(cwd, '.gitattributes'), 'hang.txt merge=hang\n');
    const timers = fakeTimers();
    // Its merged trees go to an object directory of the tool's own, as every merge-tree's must.
    const objects = createTemporaryObjects(join(fx.clone, '.git', 'shadow-integrator'));
    after(() => objects.remove());
    const h = openGit(cwd, { env: testEnv(), timeoutSeconds: 7, timers }, { gitDir: join(fx.clone, '.git'), objectDir: objects.dir, alternates: [join(fx.clone, '.git', 'objects')] });
    const p = startGit(h, ['merge-tree', '--stdin', '--name-only'], { bounded: false });
    p.stdin.write(`${ours} ${theirs}\n`);
    const ended = p.finish();
    await waitFor(() => existsSync(script('hang.pid')) && readFileSync(script('hang.pid'), 'utf8').endsWith('\n'), 'the driver to start');
    // Only now does the deadline pass: the driver was running, whatever the machine's speed.
    timers.advance(7000);
    assert.equal((await ended).killed, 'timeout');
    const pid = Number(readFileSync(script('hang.pid'), 'utf8'));
    await waitFor(() => gone(pid), 'the driver to die with its git');
  });
});

describe('what a hostile check leaves in the scratch repository never reaches the next candidate', () => {
  let fx: Fixture;
  const file = (name: string) => join(fx.root, name);

  before(() => {
    fx = createFixture();
    // Records any run of the programs a check configures; a smudge filter passes its input through.
    writeFileSync(file('ran.sh'), `#!/bin/sh\necho "$*" >> "${file('ran.log')}"\n[ "$1" = smudge ] && exec cat\nexit 1\n`);
    chmodSync(file('ran.sh'), 0o755);
    const ran = file('ran.sh');
    const identity = '-c user.name=h -c user.email=h@h';
    const hostile = [
      // Refs, a stash, objects of its own, an index flag that hides a changed file.
      'git branch -f hostile && git tag -f hostile',
      `echo hostile >> README.md && git ${identity} stash -q`,
      `git ${identity} commit -q --allow-empty -m hostile`,
      'git update-index --skip-worktree README.md && echo EVIL > README.md',
      // Then, with no git run after them in this check: config, attributes, hooks, alternates.
      'git config core.hooksPath .git/hooks && git config alias.co checkout',
      `git config core.fsmonitor "${ran} fsmonitor" && git config merge.evil.driver "${ran} driver %O %A %B"`,
      `git config filter.evil.smudge "${ran} smudge" && git config filter.evil.clean cat && git config include.path "${file('nowhere.gitconfig')}"`,
      'mkdir -p .git/info .git/hooks && printf "* merge=evil filter=evil\\n" > .git/info/attributes',
      `for h in post-checkout post-merge reference-transaction pre-commit; do printf '#!/bin/sh\\n"${ran}" hook %s\\n' $h > .git/hooks/$h; chmod +x .git/hooks/$h; done`,
      `echo "${file('elsewhere/objects')}" >> .git/objects/info/alternates`,
    ].join(' && ');
    const observe = `{ git config --local --list; git for-each-ref; ls -a .git .git/hooks; cat .git/objects/info/alternates .git/info/attributes; git ls-files -v | grep -v '^H '; cat README.md; } > "${file('seen.txt')}" 2>&1; true`;
    writeFileSync(file('check.sh'), `#!/bin/sh\nif [ ! -e "${file('hostile.done')}" ]; then touch "${file('hostile.done')}"; ${hostile} || exit 1; exit 0; fi\n${observe}\n`);
    chmodSync(file('check.sh'), 0o755);
  });
  after(() => fx.remove());

  for (const engine of ['merge-tree', 'worktree'] as const) {
    test(`${engine}: refs, stash, config, hooks, alternates, a skip-worktree file — the next candidate's check sees none of it, its verdict stands, nothing of it ran`, async () => {
      for (const f of ['hostile.done', 'seen.txt', 'ran.log']) rmSync(file(f), { force: true });
      const guard = guardCanonical(fx.clone, { origin: fx.origin });
      const rebuilt: unknown[] = [];
      const e = engineFor(fx, { engine, checks: [{ name: 'check', run: file('check.sh'), timeout_seconds: 60 }] }, { log: (event, fields) => event === 'scratch_rebuilt' && rebuilt.push(fields.reason) });
      assert.equal((await e.evaluate(fx.scenarios.clean)).outcome, 'would_integrate', 'the hostile check passed');
      assert.ok(existsSync(file('hostile.done')));
      rebuilt.length = 0;

      const next = await e.evaluate(fx.scenarios.clean2);
      assert.equal(next.outcome, 'would_integrate', next.message);
      const seen = readFileSync(file('seen.txt'), 'utf8');
      assert.doesNotMatch(seen, /hostile|evil|alias|fsmonitor|include|elsewhere|EVIL|refs\/|^S /m, seen);
      assert.match(seen, /^core\.hookspath=\/dev\/null$/m, 'the tool’s own config');
      assert.equal(rebuilt.length, 1, `made again once, between the two candidates: ${rebuilt.join('; ')}`);
      // Neither the tool's git nor the next check ran a hook, fsmonitor, filter or driver of the hostile one.
      assert.equal(existsSync(file('ran.log')), false, existsSync(file('ran.log')) ? readFileSync(file('ran.log'), 'utf8') : '');
      const scratch = join(stateDirOf(fx), 'scratch');
      assert.equal(fx.git(scratch, 'for-each-ref'), '', 'no ref left in the scratch repository');
      assert.equal(spawnSync('git', ['-C', scratch, 'gc', '-q'], { env: testEnv(), encoding: 'utf8' }).status, 0, 'git gc there has nothing broken to trip on');
      await e.close();
      guard.assertUntouched();
    });
  }
});

test('an fsmonitor configured in the canonical repository never runs: fetch and diff-tree read its index with core.fsmonitor=false', async () => {
  const fx = createFixture();
  try {
    const log = join(fx.root, 'fsmonitor.log');
    writeFileSync(join(fx.root, 'fsmonitor.sh'), `#!/bin/sh\necho "$*" >> "${log}"\nexit 1\n`);
    chmodSync(join(fx.root, 'fsmonitor.sh'), 0o755);
    fx.git(fx.clone, 'config', 'core.fsmonitor', join(fx.root, 'fsmonitor.sh'));
    const guard = guardCanonical(fx.clone, { origin: fx.origin });
    // The snapshot's own `git status` runs it: only what runs after counts.
    rmSync(log, { force: true });
    const engine = engineFor(fx, { fetch: true });
    assert.equal((await engine.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    await engine.close();
    const h = openGit(fx.clone, { env: testEnv(), timeoutSeconds: 60, timers: systemTimers });
    assert.ok((await treeChanges(h, fx.scenarios.clean.sha, fx.scenarios.clean2.sha)).length > 0);
    assert.equal(existsSync(log), false, existsSync(log) ? readFileSync(log, 'utf8') : '');
    guard.assertUntouched();
  } finally {
    fx.remove();
  }
});
