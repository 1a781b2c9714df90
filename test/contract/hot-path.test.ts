/**
 * What a command loads. The validators are generated code, so no command loads ajv (compiling the
 * schemas took 170–290 ms of every start), and yaml (~30 ms) is loaded only when a config file
 * exists and cache/config.json does not hold its text. Real CLI processes: what a fresh process
 * loads is the thing under test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, finished, shaOf, tempRepo, type RunResult, type TempRepo } from '../support/index.js';

const RECORDER = fileURLToPath(new URL('record-modules.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'si-hot-path-'));
const repos: TempRepo[] = [];
after(() => {
  repos.forEach((r) => r.remove());
  rmSync(scratch, { recursive: true, force: true });
});
function repo(config: string | null): TempRepo {
  const r = tempRepo(config);
  repos.push(r);
  return r;
}

let runs = 0;
/** Runs the CLI; returns its result and the packages it loaded (by name, from node_modules). */
async function packagesLoadedBy(cwd: string, args: string[], input?: string): Promise<{ result: RunResult; packages: Set<string> }> {
  const out = join(scratch, `modules-${++runs}.json`);
  const child = spawn(process.execPath, ['--import', RECORDER, CLI, ...args], { cwd, env: { ...process.env, SI_RECORD_MODULES: out }, stdio: 'pipe' });
  const result = await finished(child, input);
  const modules = JSON.parse(readFileSync(out, 'utf8')) as string[];
  const packages = new Set(modules.map((m) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)?.[1]).filter((p): p is string => p !== undefined));
  // A recorder that saw nothing would prove nothing: commander (CommonJS) is loaded by every command.
  assert.ok(packages.has('commander'), `the recorder saw: ${[...packages].join(', ')}`);
  return { result, packages };
}

test('emit validates its event without loading ajv', async () => {
  const r = repo('mode: shadow\n');
  const { result, packages } = await packagesLoadedBy(r.dir, ['emit', 'finalize_ready', '--slug', 's1', '--branch', 'b1', '--sha', shaOf(1), '--worker-session-id', 'w', '--orchestrator-session-id', 'o']);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(!packages.has('ajv') && !packages.has('ajv-formats'), [...packages].join(', '));
  assert.ok(packages.has('yaml'), 'a config file exists: it is parsed');
});

test('a config file parsed once is read from cache/config.json by the next command, without yaml, until its text changes', async () => {
  const r = repo('mode: shadow\nremote: origin\n');
  const emit = ['emit', 'review_approved', '--slug', 's1', '--review-round', '1', '--reviewer-session-id', 'r', '--json'];
  const first = await packagesLoadedBy(r.dir, emit);
  assert.equal(first.result.code, 0, first.result.stderr);
  assert.ok(first.packages.has('yaml'), 'the first command parses the file');
  const again = await packagesLoadedBy(r.dir, ['config', '--json']);
  assert.equal(again.result.code, 0, again.result.stderr);
  assert.ok(!again.packages.has('yaml'), [...again.packages].join(', '));
  const shown = JSON.parse(again.result.stdout) as { config: { remote: string }; sources: Record<string, string> };
  assert.equal(shown.config.remote, 'origin');
  assert.equal(shown.sources.remote, `${r.configFile}:2`, 'the line each value came from, as a parse gives it');
  r.writeConfig('mode: shadow\nremote: upstream\n');
  const edited = await packagesLoadedBy(r.dir, ['config', '--json']);
  assert.ok(edited.packages.has('yaml'), 'a changed text is parsed again');
  assert.equal((JSON.parse(edited.result.stdout) as { config: { remote: string } }).config.remote, 'upstream');
});

test('an invalid event is still explained without ajv', async () => {
  const r = repo('mode: shadow\n');
  const { result, packages } = await packagesLoadedBy(r.dir, ['emit', 'review_approved', '--slug', 'Bad', '--review-round', '1', '--reviewer-session-id', 'r']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /slug: must match \^\[a-z0-9\]/);
  assert.ok(!packages.has('ajv'));
});

test('status reads and validates the state files without ajv; with no config file, without yaml', async () => {
  const r = repo(null);
  const { result, packages } = await packagesLoadedBy(r.dir, ['status', '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(!packages.has('ajv'), [...packages].join(', '));
  assert.ok(!packages.has('yaml'), 'no config file: yaml is not loaded');
});

test('the hook that records pushes runs without ajv', async () => {
  const r = repo('mode: shadow\n');
  const { result, packages } = await packagesLoadedBy(r.dir, ['hooks', 'receive', '--pusher', 'p'], `${'0'.repeat(40)} ${shaOf(7)} refs/heads/agent/x\n`);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /recorded branch_pushed agent\/x/);
  assert.ok(!packages.has('ajv'));
});
