/**
 * Loading .shadow-integrator.yml from real files: defaults and their sources, every kind of bad config
 * named by key, line and allowed values, the mode gate, where the file is found (subdirectory, linked
 * worktree, --config) and `init`'s refusal to clobber.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig, MAX_CONFIG_BYTES } from '../../src/config/config.js';
import { init } from '../../src/config/init.js';
import { modeOff, openStateDir } from '../../src/config/state.js';
import { isShadowError, type ShadowError } from '../../src/contract/errors.js';
import * as outputs from '../../src/contract/output-validators.generated.js';
import { finished, git, runCli, startCli, tempRepo, testContext, type RunResult, type TempRepo } from '../support/index.js';

const repos: TempRepo[] = [];
after(() => repos.forEach((r) => r.remove()));
function repo(config: string | null): TempRepo {
  const r = tempRepo(config);
  repos.push(r);
  return r;
}

/** The ShadowError loading `yaml` throws. */
function loadError(yaml: string): ShadowError {
  const r = repo(yaml);
  try {
    r.load();
  } catch (e) {
    assert.ok(isShadowError(e), `not a ShadowError: ${String(e)}`);
    return e;
  }
  assert.fail(`config was accepted:\n${yaml}`);
}

describe('defaults and sources', () => {
  test('no config file: every default, mode off, state dir in the git common dir', () => {
    const r = repo(null);
    const l = r.load();
    assert.equal(l.file, null);
    assert.deepEqual(
      { ...l.config, state_dir: undefined },
      { mode: 'off', remote: 'origin', main_branch: 'main', state_dir: undefined, lease: { ttl_seconds: 120, renew_every_seconds: 30 }, grace_seconds: 10, fetch: false, engine: 'merge-tree', checks: [], git_timeout_seconds: 120, base: 'queue', stack_window_seconds: 86_400 },
    );
    assert.equal(l.config.state_dir, join(r.dir, '.git', 'shadow-integrator'));
    for (const [key, source] of Object.entries(l.sources)) assert.match(source, /^default/, key);
    assert.deepEqual(Object.keys(l.sources).sort(), ['base', 'checks', 'engine', 'fetch', 'git_timeout_seconds', 'grace_seconds', 'lease.renew_every_seconds', 'lease.ttl_seconds', 'main_branch', 'mode', 'remote', 'stack_window_seconds', 'state_dir']);
  });

  test('each set key is sourced to its file and line; the rest stay default', () => {
    const r = repo('mode: shadow\n# a comment\nlease:\n  ttl_seconds: 1\n  renew_every_seconds: 0.2\nstate_dir: .git/state\n');
    const l = r.load();
    assert.equal(l.file, r.configFile);
    assert.equal(l.sources.mode, `${r.configFile}:1`);
    assert.equal(l.sources['lease.ttl_seconds'], `${r.configFile}:4`);
    assert.equal(l.sources['lease.renew_every_seconds'], `${r.configFile}:5`);
    assert.equal(l.sources.state_dir, `${r.configFile}:6`);
    assert.equal(l.sources.remote, 'default');
    assert.deepEqual(l.config.lease, { ttl_seconds: 1, renew_every_seconds: 0.2 });
    assert.equal(l.config.state_dir, join(r.dir, '.git', 'state'), 'a relative state_dir resolves against the top level');
  });

  test('a section whose entries are all commented out is an empty section, not an error', () => {
    const l = repo('mode: shadow\nlease:\n  # ttl_seconds: 60\nchecks:\n  # - run: npm test\n').load();
    assert.deepEqual(l.config.lease, { ttl_seconds: 120, renew_every_seconds: 30 });
    assert.deepEqual(l.config.checks, []);
    assert.equal(l.sources['lease.ttl_seconds'], 'default');
  });

  test('checks get a name and the default timeout', () => {
    const l = repo('checks:\n  - run: npm test\n  - name: lint\n    run: npm run lint\n    timeout_seconds: 5\n').load();
    assert.deepEqual(l.config.checks, [
      { name: 'check 1', run: 'npm test', timeout_seconds: 300 },
      { name: 'lint', run: 'npm run lint', timeout_seconds: 5 },
    ]);
  });

  test('--state-dir overrides state_dir, relative to the cwd', () => {
    const r = repo('state_dir: .git/elsewhere\n');
    const l = loadConfig({ cwd: r.dir, stateDir: '.git/mine' });
    assert.equal(l.config.state_dir, join(r.dir, '.git', 'mine'));
    assert.equal(l.sources.state_dir, '--state-dir');
  });

  test('found from a subdirectory and from a linked worktree, which share one state dir', () => {
    const r = repo('mode: shadow\nremote: upstream\n');
    const sub = join(r.dir, 'a', 'b');
    mkdirSync(sub, { recursive: true });
    assert.equal(loadConfig({ cwd: sub }).config.remote, 'upstream');
    git(r.dir, ['commit', '-q', '--allow-empty', '-m', 'init']);
    const wt = `${r.dir}-wt`;
    git(r.dir, ['worktree', 'add', '-q', wt]);
    try {
      const l = loadConfig({ cwd: wt });
      assert.equal(l.file, r.configFile);
      assert.equal(l.config.remote, 'upstream');
      assert.equal(l.config.state_dir, join(r.dir, '.git', 'shadow-integrator'));
    } finally {
      git(r.dir, ['worktree', 'remove', '--force', wt]);
    }
  });

  test('a worktree whose git dir lives elsewhere (--separate-git-dir, submodules): the config is at its top level', () => {
    const r = repo(null);
    const wt = `${r.dir}-sep`;
    const gitDir = `${r.dir}-sep.git`;
    git(r.dir, ['init', '-q', '--separate-git-dir', gitDir, wt]);
    try {
      writeFileSync(join(wt, '.shadow-integrator.yml'), 'mode: shadow\n');
      mkdirSync(join(wt, 'sub'));
      const l = loadConfig({ cwd: join(wt, 'sub') });
      assert.equal(l.file, join(wt, '.shadow-integrator.yml'));
      assert.equal(l.config.mode, 'shadow');
      assert.equal(l.config.state_dir, join(gitDir, 'shadow-integrator'), 'state stays in the git dir');
      git(wt, ['commit', '-q', '--allow-empty', '-m', 'first']);
      git(wt, ['remote', 'add', 'origin', wt]);
      git(wt, ['fetch', '-q', 'origin']);
      const made = init(testContext({ cwd: wt }), { force: true, mainBranch: 'main' });
      assert.equal(made.file, join(wt, '.shadow-integrator.yml'), 'init writes it there too');
    } finally {
      rmSync(wt, { recursive: true, force: true });
      rmSync(gitDir, { recursive: true, force: true });
    }
  });

  test('--config names the file; a missing one is an error naming it', () => {
    const r = repo(null);
    writeFileSync(join(r.dir, 'other.yml'), 'mode: shadow\n');
    assert.equal(loadConfig({ cwd: r.dir, configPath: 'other.yml' }).config.mode, 'shadow');
    assert.throws(() => loadConfig({ cwd: r.dir, configPath: 'missing.yml' }), (e: ShadowError) => e.code === 'E_CONFIG_INVALID' && e.exitCode === 2 && /missing\.yml/.test(e.message));
  });

  test('outside a repository: E_NOT_A_REPOSITORY, exit 2', () => {
    assert.throws(() => loadConfig({ cwd: '/' }), (e: ShadowError) => e.code === 'E_NOT_A_REPOSITORY' && e.exitCode === 2);
  });
});

describe('cache/config.json: the last parse, kept for the next command', () => {
  const CONFIG = 'mode: shadow\nremote: upstream\nlease:\n  ttl_seconds: 90\nchecks:\n  - run: npm test\n    timeout_seconds: 60\n';
  const cacheOf = (r: TempRepo) => join(r.paths.dir, 'cache', 'config.json');
  const readKept = (r: TempRepo) => JSON.parse(readFileSync(cacheOf(r), 'utf8')) as Record<string, unknown>;

  test('answers with exactly what a parse gives: values, defaults and the line of each key', () => {
    const r = repo(CONFIG);
    const parsed = r.load();
    const kept = readKept(r);
    assert.equal(kept.text, CONFIG);
    assert.deepEqual(kept.data, { mode: 'shadow', remote: 'upstream', lease: { ttl_seconds: 90 }, checks: [{ run: 'npm test', timeout_seconds: 60 }] }, 'as parsed, before defaults');
    const answered = r.load();
    assert.deepEqual(answered, parsed);
    assert.equal(answered.sources['lease.ttl_seconds'], `${r.configFile}:4`);
  });

  test('a changed text, another file, another yaml, an off-schema or torn record is not used: the file is parsed', () => {
    const r = repo(CONFIG);
    r.load();
    r.writeConfig(CONFIG.replace('upstream', 'fork'));
    assert.equal(r.load().config.remote, 'fork', 'the text changed');
    assert.equal(readKept(r).text, CONFIG.replace('upstream', 'fork'), 'kept again for the new text');
    writeFileSync(cacheOf(r), JSON.stringify({ ...readKept(r), file: join(r.dir, 'other.yml'), data: { remote: 'elsewhere' } }));
    assert.equal(r.load().config.remote, 'fork', 'kept for another file');
    writeFileSync(cacheOf(r), JSON.stringify({ ...readKept(r), yaml: '0.0.1', data: { remote: 'elsewhere' } }));
    assert.equal(r.load().config.remote, 'fork', 'kept by another yaml');
    writeFileSync(cacheOf(r), JSON.stringify({ ...readKept(r), schema_version: 2, data: { remote: 'elsewhere' } }));
    assert.equal(r.load().config.remote, 'fork', 'off its schema');
    writeFileSync(cacheOf(r), '{"schema_version":1,');
    assert.equal(r.load().config.remote, 'fork', 'torn');
  });

  test('kept values that no longer validate (a newer schema) are parsed again, and a problem is reported with its line', () => {
    const r = repo(CONFIG);
    r.load();
    writeFileSync(cacheOf(r), JSON.stringify({ ...readKept(r), data: { mode: 'shadow', remote: 'upstream', lease: { ttl_seconds: 'soon' } } }));
    assert.equal(r.load().config.lease.ttl_seconds, 90, 'the file says 90');
    r.writeConfig('mode: shadow\nlease:\n  ttl_seconds: 5\n  renew_every_seconds: 10\n');
    for (let i = 0; i < 2; i++) {
      // The second load finds nothing kept for this text: an invalid config is never kept.
      assert.throws(() => r.load(), (e: ShadowError) => e.code === 'E_CONFIG_INVALID' && /line 4: lease\.renew_every_seconds/.test(e.message));
    }
  });

  test('kept only in the default state directory, once it exists: never created for it, never where the config points elsewhere', () => {
    const r = repo(CONFIG);
    rmSync(r.paths.dir, { recursive: true });
    r.load();
    assert.throws(() => readFileSync(cacheOf(r)), /ENOENT/, 'no state directory: nothing written');
    const elsewhere = mkdtempSync(join(tmpdir(), 'si-elsewhere-'));
    try {
      mkdirSync(r.paths.dir);
      r.writeConfig(`${CONFIG}state_dir: ${elsewhere}\n`);
      assert.equal(r.load().config.state_dir, elsewhere);
      assert.throws(() => readFileSync(cacheOf(r)), /ENOENT/, 'another state directory configured: the default one is not written');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('a bad config names the key, its line and the allowed values', () => {
  const cases: { name: string; yaml: string; key: string; line: number; says: RegExp }[] = [
    { name: 'unknown key', yaml: 'mode: shadow\ngrase_seconds: 5\n', key: 'grase_seconds', line: 2, says: /is not a known field \(known fields: mode, remote, main_branch, state_dir, lease, grace_seconds, fetch, engine, checks, git_timeout_seconds, base, stack_window_seconds\)/ },
    { name: 'bad enum value', yaml: 'mode: shadow\n\nengine: rebase\n', key: 'engine', line: 3, says: /must be one of "merge-tree", "worktree"/ },
    { name: 'wrong type', yaml: 'fetch: yes please\n', key: 'fetch', line: 1, says: /must be of type boolean/ },
    { name: 'wrong type (number)', yaml: 'mode: shadow\ngrace_seconds: soon\n', key: 'grace_seconds', line: 2, says: /must be of type number/ },
    { name: 'nested lease key', yaml: 'mode: shadow\nlease:\n  ttl: 5\n', key: 'lease.ttl', line: 3, says: /is not a known field \(known fields: ttl_seconds, renew_every_seconds\)/ },
    { name: 'lease not a map', yaml: 'lease: 5\n', key: 'lease', line: 1, says: /must be of type object/ },
    { name: 'renew ≥ ttl', yaml: 'mode: shadow\nlease:\n  ttl_seconds: 5\n  renew_every_seconds: 5\n', key: 'lease.renew_every_seconds', line: 4, says: /must be below lease.ttl_seconds \(5\)/ },
    { name: 'renew above the default ttl', yaml: 'lease:\n  renew_every_seconds: 500\n', key: 'lease.renew_every_seconds', line: 2, says: /must be below lease.ttl_seconds \(120\)/ },
    { name: 'a check without run, at its list item', yaml: 'checks:\n  - run: ok\n  - name: x\n', key: 'checks.1.run', line: 3, says: /is required/ },
    { name: 'an unknown key in a check', yaml: 'checks:\n  - run: ok\n    tmeout: 5\n', key: 'checks.0.tmeout', line: 3, says: /is not a known field \(known fields: name, run, timeout_seconds\)/ },
    { name: 'a bad remote', yaml: 'remote: "bad remote"\n', key: 'remote', line: 1, says: /must match/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const e = loadError(c.yaml);
      assert.equal(e.code, 'E_CONFIG_INVALID');
      assert.equal(e.exitCode, 2);
      const problems = e.details.problems as { key: string; line?: number; message: string }[];
      const p = problems.find((x) => x.key === c.key);
      assert.ok(p, `no problem for ${c.key}: ${JSON.stringify(problems)}`);
      assert.equal(p.line, c.line);
      assert.match(p.message, c.says);
      assert.ok(e.message.includes(`line ${c.line}: ${c.key}: `), e.message);
      assert.ok(e.message.includes(repos.at(-1)?.configFile ?? '?'), 'the message names the file');
    });
  }

  test('several problems are all reported', () => {
    const e = loadError('foo: 1\nengine: x\nfetch: 3\n');
    assert.deepEqual((e.details.problems as { key: string }[]).map((p) => p.key).sort(), ['engine', 'fetch', 'foo']);
    assert.match(e.message, /3 config problems/);
  });

  test('a YAML syntax error gives its line', () => {
    const e = loadError('mode: shadow\nlease:\n  ttl_seconds: 5\n renew_every_seconds: [\n');
    assert.equal(e.code, 'E_CONFIG_INVALID');
    const p = (e.details.problems as { key: string; line?: number }[])[0];
    assert.equal(p?.key, '(yaml)');
    assert.ok(p.line !== undefined && p.line >= 4, `line ${p.line}`);
    assert.match(e.message, /line \d+(:\d+)?: \(yaml\): /);
  });

  test('a duplicate key is a YAML error at its line', () => {
    const e = loadError('mode: shadow\nengine: worktree\nmode: off\n');
    const p = (e.details.problems as { key: string; line?: number }[])[0];
    assert.equal(p?.key, '(yaml)');
    assert.equal(p.line, 3);
  });

  test('a top level that is not a map', () => {
    const e = loadError('- a\n- b\n');
    assert.match(e.message, /must be of type object/);
  });

  test('an empty file is all defaults', () => {
    assert.equal(repo('').load().config.mode, 'off');
  });
});

describe('the mode gate', () => {
  test('mode: cutover is refused with exit 2, its line and why', () => {
    const e = loadError('remote: origin\nmode: cutover\n');
    assert.equal(e.code, 'E_MODE_REFUSED');
    assert.equal(e.exitCode, 2);
    assert.equal(e.details.line, 2);
    assert.deepEqual(e.details.allowed, ['off', 'shadow']);
    assert.match(e.message, /:2: mode: cutover is refused\. Allowed values: off, shadow\./);
    assert.match(e.message, /never takes merge or push authority over canonical main/);
  });

  test('any other mode value is refused the same way', () => {
    for (const mode of ['live', 'Shadow', 'true', '1']) assert.equal(loadError(`mode: ${mode}\n`).code, 'E_MODE_REFUSED', mode);
  });

  test('no config: watch/drain explain how to opt in', () => {
    const r = repo(null);
    const off = modeOff(r.load());
    assert.equal(off?.status, 'mode_off');
    assert.match(off.message, /no \.shadow-integrator\.yml/);
    assert.match(off.message, /shadow-integrator init/);
    assert.ok(off.message.includes(r.configFile));
  });

  test('mode: off names the file; mode: shadow passes the gate', () => {
    const r = repo('mode: off\n');
    assert.match(modeOff(r.load())?.message ?? '', new RegExp(`mode: off in ${r.configFile}`));
    r.writeConfig('mode: shadow\n');
    assert.equal(modeOff(r.load()), null);
  });

  test('openStateDir creates the state directory, or says why it cannot', () => {
    const r = repo('mode: shadow\nstate_dir: .git/deep/state\n');
    const paths = openStateDir(r.load());
    assert.equal(paths.dir, join(r.dir, '.git', 'deep', 'state'));
    writeFileSync(join(r.dir, '.git', 'blocker'), '');
    r.writeConfig('mode: shadow\nstate_dir: .git/blocker/state\n');
    assert.throws(() => openStateDir(r.load()), (e: ShadowError) => e.code === 'E_STATE_DIR');
  });
});

describe('the resolved config is what its schema says', () => {
  test('every key present, defaults filled in list items too, valid against resolved-config.schema.json', () => {
    for (const yaml of [null, '', 'mode: shadow\nchecks:\n  - run: npm test\n  - name: lint\n    run: npm run lint\n    timeout_seconds: 5\nlease:\n  ttl_seconds: 60\n']) {
      const l = repo(yaml).load();
      assert.ok(outputs.resolvedConfig(l.config), `${JSON.stringify(yaml)}: ${JSON.stringify(outputs.resolvedConfig.errors)}`);
    }
    const l = repos.at(-1)?.load();
    assert.deepEqual(l?.config.checks.map((c) => c.timeout_seconds), [300, 5]);
    assert.deepEqual(l?.config.lease, { ttl_seconds: 60, renew_every_seconds: 30 });
  });

  test('keys come out in the schema order, whatever the file order', () => {
    const l = repo('base: tip\nlease:\n  renew_every_seconds: 3\nmode: shadow\n').load();
    assert.deepEqual(Object.keys(l.config), ['mode', 'remote', 'main_branch', 'lease', 'grace_seconds', 'fetch', 'engine', 'checks', 'git_timeout_seconds', 'base', 'stack_window_seconds', 'state_dir']);
    assert.deepEqual(Object.keys(l.config.lease), ['ttl_seconds', 'renew_every_seconds']);
    assert.deepEqual(Object.keys(l.sources), ['mode', 'remote', 'main_branch', 'lease.ttl_seconds', 'lease.renew_every_seconds', 'grace_seconds', 'fetch', 'engine', 'checks', 'git_timeout_seconds', 'base', 'stack_window_seconds', 'state_dir']);
  });
});

describe('numbers within sane bounds', () => {
  // Past Node's timer limit (2^31-1 ms) a timer fires every millisecond; past ~8.6e15 ms a date is invalid.
  const cases: { yaml: string; key: string; line: number; max: number }[] = [
    { yaml: 'mode: shadow\nlease:\n  ttl_seconds: 9e12\n', key: 'lease.ttl_seconds', line: 3, max: 86400 },
    { yaml: 'lease:\n  ttl_seconds: 9000000\n  renew_every_seconds: 3000000\n', key: 'lease.renew_every_seconds', line: 3, max: 86400 },
    { yaml: 'grace_seconds: 100000\n', key: 'grace_seconds', line: 1, max: 3600 },
    { yaml: 'git_timeout_seconds: 2147484\n', key: 'git_timeout_seconds', line: 1, max: 86400 },
    { yaml: 'checks:\n  - run: npm test\n    timeout_seconds: 1e9\n', key: 'checks.0.timeout_seconds', line: 3, max: 86400 },
  ];
  for (const c of cases) {
    test(`${c.key} above ${c.max} is refused at its line`, () => {
      const e = loadError(c.yaml);
      assert.equal(e.code, 'E_CONFIG_INVALID');
      assert.equal(e.exitCode, 2);
      const p = (e.details.problems as { key: string; line?: number; message: string }[]).find((x) => x.key === c.key);
      assert.ok(p, JSON.stringify(e.details.problems));
      assert.equal(p.line, c.line);
      assert.equal(p.message, `must be <= ${c.max}`);
    });
  }

  test('the largest values allowed load', () => {
    const l = repo('lease:\n  ttl_seconds: 86400\n  renew_every_seconds: 86399\ngrace_seconds: 3600\ngit_timeout_seconds: 86400\n').load();
    assert.equal(l.config.lease.ttl_seconds, 86400);
    assert.ok(Number.isFinite(new Date(Date.now() + l.config.lease.ttl_seconds * 1000).getTime()));
  });
});

describe('state_dir is refused where it would write into git or the worktree', () => {
  const refusedCases: { name: string; stateDir: (r: TempRepo) => string; says: RegExp }[] = [
    { name: "the git directory's refs/", stateDir: () => '.git/refs/heads/si', says: /is inside .*\.git\/refs: git would read state files there as refs/ },
    { name: "the git directory's objects/", stateDir: () => '.git/objects/si', says: /is inside .*\.git\/objects: git would read state files there as objects/ },
    { name: "the git directory's logs/", stateDir: () => '.git/logs', says: /is inside .*\.git\/logs: git would read state files there as reflogs/ },
    { name: "the git directory's worktrees/", stateDir: () => '.git/worktrees/x/si', says: /is inside .*\.git\/worktrees: / },
    { name: 'the worktree itself', stateDir: () => '.', says: /is inside the worktree .*: state files would show up there as changes/ },
    { name: 'a directory of the worktree', stateDir: () => 'tmp/state', says: /is inside the worktree / },
    { name: 'an absolute path in the worktree', stateDir: (r) => join(r.dir, 'state'), says: /is inside the worktree / },
  ];
  for (const c of refusedCases) {
    test(`inside ${c.name}`, () => {
      const r = repo(null);
      r.writeConfig(`mode: shadow\n\nstate_dir: ${c.stateDir(r)}\n`);
      const e = loadError2(r);
      assert.equal(e.code, 'E_CONFIG_INVALID');
      assert.equal(e.exitCode, 2);
      const p = (e.details.problems as { key: string; line?: number; message: string }[])[0];
      assert.equal(p?.key, 'state_dir');
      assert.equal(p.line, 3);
      assert.match(p.message, c.says);
      assert.match(p.message, new RegExp(`allowed: a directory outside every worktree .* such as the default ${escape(join(r.dir, '.git', 'shadow-integrator'))}`));
    });
  }

  test('inside a linked worktree, found through the common dir', () => {
    const r = repo(null);
    git(r.dir, ['commit', '-q', '--allow-empty', '-m', 'init']);
    const wt = `${r.dir}-linked`;
    git(r.dir, ['worktree', 'add', '-q', wt]);
    try {
      r.writeConfig(`state_dir: ${join(wt, 'state')}\n`);
      assert.match(loadError2(r).message, new RegExp(`is inside the worktree ${escape(wt)}`));
      assert.match(loadError2(r, wt).message, /is inside the worktree /, 'also when loaded from the linked worktree');
    } finally {
      git(r.dir, ['worktree', 'remove', '--force', wt]);
    }
  });

  test('through a symlink that points into the worktree', () => {
    const r = repo(null);
    const link = `${r.dir}-link`;
    symlinkSync(r.dir, link);
    try {
      r.writeConfig(`state_dir: ${join(link, 'state')}\n`);
      assert.match(loadError2(r).message, /is inside the worktree /);
    } finally {
      rmSync(link);
    }
  });

  test('--state-dir inside the worktree: a usage error naming the flag', () => {
    const r = repo('mode: shadow\n');
    assert.throws(
      () => loadConfig({ cwd: r.dir, stateDir: 'state' }),
      (e: ShadowError) => e.code === 'E_OPTION_INVALID' && e.exitCode === 2 && /^--state-dir "state" is not valid: .* is inside the worktree /.test(e.message),
    );
  });

  test('allowed: the default, elsewhere in the git directory, and outside the repository', () => {
    const r = repo('mode: shadow\n');
    assert.equal(r.load().config.state_dir, join(r.dir, '.git', 'shadow-integrator'));
    r.writeConfig('state_dir: .git/si-state\n');
    assert.equal(r.load().config.state_dir, join(r.dir, '.git', 'si-state'));
    const outside = mkdtempSync(join(tmpdir(), 'si-state-outside-'));
    try {
      r.writeConfig(`state_dir: ${outside}\n`);
      assert.equal(r.load().config.state_dir, outside);
      assert.equal(loadConfig({ cwd: r.dir, stateDir: join(outside, 'sub') }).config.state_dir, join(outside, 'sub'));
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('a sibling directory whose name starts like the worktree is not inside it', () => {
    const r = repo(null);
    const sibling = `${r.dir}-state`;
    try {
      r.writeConfig(`state_dir: ${sibling}\n`);
      assert.equal(r.load().config.state_dir, sibling);
    } finally {
      rmSync(sibling, { recursive: true, force: true });
    }
  });
});

describe('the config file is read only when it is a regular file of sane size', () => {
  /** The CLI's `config` on `--config <path>`; killed if it hangs, so that a regression fails instead of blocking the suite. */
  async function configCommand(r: TempRepo, path: string): Promise<RunResult> {
    const child = startCli(r.dir, ['--config', path, 'config']);
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      return await finished(child);
    } finally {
      clearTimeout(guard);
    }
  }

  test('--config /dev/zero: refused as a device, exit 2, instead of reading until memory runs out', async () => {
    const res = await configCommand(repo(null), '/dev/zero');
    assert.equal(res.signal, null, 'it returned');
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /\/dev\/zero: invalid config:\n {2}\(file\): is a device: a config is read only from a regular file/);
  });

  test('a FIFO: refused without waiting for a writer', async () => {
    const r = repo(null);
    const fifo = join(r.dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    const res = await configCommand(r, fifo);
    assert.equal(res.signal, null, 'it returned');
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /\(file\): is a FIFO: a config is read only from a regular file/);
  });

  test('a directory', () => {
    const r = repo(null);
    assert.throws(() => loadConfig({ cwd: r.dir, configPath: '.git' }), (e: ShadowError) => e.code === 'E_CONFIG_INVALID' && /\(file\): is a directory/.test(e.message));
  });

  test(`a file larger than ${MAX_CONFIG_BYTES} bytes`, () => {
    const r = repo(`mode: shadow\n${'#'.repeat(MAX_CONFIG_BYTES)}\n`);
    const e = loadError2(r);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, new RegExp(`\\(file\\): is larger than ${MAX_CONFIG_BYTES} bytes`));
    r.writeConfig(`mode: shadow\n${'#'.repeat(MAX_CONFIG_BYTES - 20)}\n`);
    assert.equal(r.load().config.mode, 'shadow', 'just under the bound is read');
  });

  test('a symlink to a regular file is read', () => {
    const r = repo(null);
    writeFileSync(join(r.dir, 'real.yml'), 'mode: shadow\n');
    symlinkSync(join(r.dir, 'real.yml'), r.configFile);
    assert.equal(r.load().config.mode, 'shadow');
  });
});

describe('a YAML alias bomb', () => {
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`), 'mode: shadow', ''].join('\n');

  test('is a config error naming the file, exit 2, not a crash', () => {
    const e = loadError(bomb);
    assert.equal(e.code, 'E_CONFIG_INVALID');
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /\(yaml\): cannot be expanded: .*at most 100 alias expansions/);
  });

  test('through the CLI: exit 2 and no stack trace', async () => {
    const r = repo(bomb);
    const res = await runCli(r.dir, ['config']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /cannot be expanded/);
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  });

  test('a few aliases are fine', () => {
    const l = repo('lease: &l\n  ttl_seconds: 60\nmode: shadow\n').load();
    assert.equal(l.config.lease.ttl_seconds, 60);
  });
});

/** The ShadowError loading `r`'s config (from `cwd`, default its top level) throws. */
function loadError2(r: TempRepo, cwd = r.dir): ShadowError {
  try {
    loadConfig({ cwd });
  } catch (e) {
    assert.ok(isShadowError(e), `not a ShadowError: ${String(e)}`);
    return e;
  }
  assert.fail(`config was accepted: ${readFileSync(r.configFile, 'utf8').slice(0, 200)}`);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
