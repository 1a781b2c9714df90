/**
 * The README's commands, kept true: every shell block says how it is tested (readme.ts), and the
 * quick start, the readiness examples, the error transcript and the jq recipes run here, verbatim,
 * one command at a time, in an agent's linked worktree of a fixture repository, with
 * `shadow-integrator` resolved to the built bin. Its relative links lead to files that exist.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { appendEvents, CLI, cannotRunHere, cli, readyEvents, testEnv } from '../support/index.js';
import { BLOCK_KINDS, commandsOf, README, readmeBlocks, type ReadmeBlock } from './readme.js';

const ROOT = dirname(README);
const readme = readFileSync(README, 'utf8');
const blocks = readmeBlocks(readme);
const ofKind = (kind: string) => blocks.filter((b) => b.kind === kind);
const where = (b: ReadmeBlock) => `README.md:${b.line}`;

describe('README.md', () => {
  test('every shell block says how it is kept true', () => {
    assert.ok(blocks.length >= 6, `${blocks.length} blocks`);
    for (const b of blocks) assert.ok(BLOCK_KINDS.includes(b.kind as never), `${where(b)}: marker ${String(b.kind)}; expected <!-- readme-test: ${BLOCK_KINDS.join('|')} --> on the line before the block`);
  });

  test('the first lines: one command runs the demo, one the tests, and CI runs both as written', () => {
    const [first] = blocks;
    assert.equal(first?.kind, 'ci-run');
    const commands = commandsOf(first?.text ?? '').map((c) => c.replace(/\s+#.*$/, ''));
    assert.deepEqual(commands, ['npm install && npm run demo', 'npm test']);
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim());
    for (const b of ofKind('ci-run')) for (const c of commandsOf(b.text)) assert.ok(ci.includes(c.replace(/\s+#.*$/, '')), `${where(b)}: .ci/run does not run ${c}`);
  });

  test('the install commands are run verbatim by .ci/install-check, and name the tarball npm pack writes', () => {
    const [install, ...more] = ofKind('ci-install');
    assert.ok(install && more.length === 0);
    assert.match(readFileSync(join(ROOT, '.ci', 'install-check'), 'utf8'), /readme\.js ci-install/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    for (const tarball of readme.matchAll(/shadow-integrator-(\d[\w.-]*)\.tgz/g)) assert.equal(tarball[1], pkg.version, `${tarball[0]} in the README: npm pack writes ${pkg.name}-${pkg.version}.tgz`);
  });

  test('relative links lead to files that exist, and anchors to headings that exist', () => {
    for (const file of ['README.md', 'docs/contract.md', 'docs/json-output.md']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue;
        const [path, anchor] = (target as string).split('#') as [string, string | undefined];
        const linked = path === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), path);
        assert.ok(existsSync(linked), `${file}: ${target as string} does not exist`);
        if (anchor !== undefined) assert.ok(headingAnchors(readFileSync(linked, 'utf8')).has(anchor), `${file}: ${target as string}: no such heading`);
      }
    }
  });
});

/** GitHub's anchors of a markdown file's headings: lowercased, punctuation dropped, spaces to '-'. */
function headingAnchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] as string).toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
}

describe('the README commands, run verbatim on a fixture repository', { timeout: 180_000 }, () => {
  let fx: Fixture;
  let wt: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;
  const branches = {} as Record<'clean' | 'conflict', { slug: string; branch: string; sha: string }>;

  before(() => {
    if (spawnSync('jq', ['--version']).error) throw cannotRunHere('jq is not installed: the README recipes use it');
    fx = createFixture({ agents: ['alice'], scenarios: false });
    wt = fx.worktrees.alice as string;
    // Two branches for the recipes to read about: a clean change, and one that conflicts with main.
    const base = fx.git(fx.clone, 'rev-parse', 'HEAD');
    fx.git(wt, 'switch', '-q', '-c', 'agent/alice/clean', base);
    branches.clean = { slug: 'clean', branch: 'agent/alice/clean', sha: fx.commit(wt, { 'clean.txt': 'new\n' }, 'clean') };
    fx.git(wt, 'switch', '-q', '-c', 'agent/alice/conflict', base);
    branches.conflict = { slug: 'conflict-content', branch: 'agent/alice/conflict', sha: fx.commit(wt, { 'src/app.txt': 'from the branch\n' }, 'conflict') };
    fx.push(wt, 'agent/alice/clean', 'agent/alice/conflict');
    fx.commit(fx.clone, { 'src/app.txt': 'from main\n' }, 'main moves');
    fx.push(fx.clone, 'HEAD:refs/heads/main');
    // `shadow-integrator` on the PATH is the built bin.
    bin = mkdtempSync(join(tmpdir(), 'si-readme-bin-'));
    writeFileSync(join(bin, 'shadow-integrator'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
    chmodSync(join(bin, 'shadow-integrator'), 0o755);
    env = testEnv({ PATH: `${bin}:${process.env.PATH ?? ''}` });
  });
  after(() => {
    fx?.remove();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  /** Runs one command with bash in the agent's worktree; `watch` runs until it has started, then gets Ctrl-C. */
  async function run(b: ReadmeBlock, command: string): Promise<{ stdout: string; stderr: string }> {
    const longRunning = /^shadow-integrator watch\b/.test(command);
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { cwd: wt, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // As on a terminal: one Ctrl-C signals the foreground process group (a second would stop it at once).
      if (longRunning && !interrupted && stderr.includes('event=watch_started')) {
        interrupted = true;
        process.kill(-(child.pid as number), 'SIGINT');
      }
    });
    const code = await new Promise<number | null>((res, rej) => child.on('error', rej).on('close', (c) => res(c)));
    assert.equal(code, 0, `${where(b)}: \`${command}\` exited ${String(code)}\n${stderr}`);
    if (longRunning) assert.match(stderr, /event=shutdown/, `${where(b)}: ${command} stopped on Ctrl-C`);
    return { stdout, stderr };
  }

  test('quick start, readiness, the error transcript and the jq recipes', async () => {
    const [quickStart, producing, retrying, recipes] = ofKind('fixture');
    assert.ok(quickStart && producing && retrying && recipes, 'four blocks run on the fixture');
    for (const c of commandsOf(quickStart.text)) await run(quickStart, c);
    assert.ok(existsSync(join(fx.clone, '.shadow-integrator.yml')), 'init wrote the config at the top of the main worktree');
    assert.ok(existsSync(join(fx.clone, '.git', 'hooks', 'reference-transaction')), 'hooks install installed the hooks');

    for (const b of ofKind('transcript')) {
      const [first, ...expected] = b.text.split('\n');
      assert.ok(first?.startsWith('$ '), `${where(b)}: a transcript starts with "$ command"`);
      const out = await run(b, (first as string).slice(2));
      assert.equal(out.stdout, `${expected.join('\n')}\n`, `${where(b)}: the output shown is the output`);
    }

    for (const c of commandsOf(producing.text)) await run(producing, c);
    for (const c of commandsOf(retrying.text)) assert.match((await run(retrying, c)).stdout, /^appended retry_requested /);

    // Decisions for the recipes to read: a clean candidate and a conflict.
    const paths = join(fx.clone, '.git', 'shadow-integrator', 'readiness.jsonl');
    appendEvents(paths, [...readyEvents(branches.clean, '2026-01-01T00:01:00Z'), ...readyEvents(branches.conflict, '2026-01-01T00:02:00Z')]);
    const drained = await cli(wt, ['drain'], { env: { PATH: env.PATH } });
    assert.equal(drained.code, 0, drained.stderr);
    const said: string[] = [];
    for (const c of commandsOf(recipes.text)) said.push((await run(recipes, c)).stdout);
    assert.match(said[0] ?? '', /"slug":"conflict-content".*"paths":\["src\/app\.txt"\]/, 'the blocks of the last day');
    assert.match(said[1] ?? '', /^\s+1 src\/app\.txt$/m, 'the files that conflict most often');
    assert.equal(said.at(-1)?.trim(), join(fx.clone, '.git', 'shadow-integrator', 'outcomes.jsonl'), 'the ledger file, found from a linked worktree');
  });
});
