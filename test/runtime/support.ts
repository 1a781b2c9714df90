/**
 * What the tests of contract, config, readiness, queue, store, runtime and cli share: throwaway
 * repositories in shadow mode, readiness events, a context with an injected clock and captured log
 * lines, an instant evaluator (runtime tests must not depend on git), the ledger checks, and the CLI
 * as a real child process.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, type LoadedConfig, type ResolvedConfig } from '../../src/config/config.js';
import { quietContext, type Context, type LogFields, type LogLevel, type Timers } from '../../src/context.js';
import type { Outcome, QueueItem, ReadinessEvent } from '../../src/contract/types.generated.js';
import type { Evaluation } from '../../src/engine/evaluate.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import type { HeldLease, Owner } from '../../src/runtime/lease.js';
import { acquireLease } from '../../src/runtime/lease-store.js';
import type { Engine, EngineFactory } from '../../src/runtime/session.js';
import { journalFile, writeJournal } from '../../src/store/journal.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';

/** The compiled CLI, found from this compiled file (dist/test/runtime/support.js). */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export const SHADOW_CONFIG = 'mode: shadow\ngrace_seconds: 0\nlease:\n  ttl_seconds: 5\n  renew_every_seconds: 1\n';

const gitEnv = () => ({ ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' });

export interface TempRepo {
  dir: string;
  paths: StatePaths;
  configFile: string;
  writeConfig(yaml: string): void;
  load(): LoadedConfig;
  remove(): void;
}

/** `git init` in a temp dir, the config written (none when null), the state directory created. */
export function tempRepo(config: string | null = SHADOW_CONFIG): TempRepo {
  const dir = mkdtempSync(join(tmpdir(), 'si-test-'));
  execFileSync('git', ['init', '-q', '-b', 'main', dir], { env: gitEnv() });
  const configFile = join(dir, '.shadow-integrator.yml');
  const paths = statePaths(join(dir, '.git', 'shadow-integrator'));
  mkdirSync(paths.dir, { recursive: true });
  const repo: TempRepo = {
    dir,
    paths,
    configFile,
    writeConfig: (yaml) => writeFileSync(configFile, yaml),
    load: () => loadConfig({ cwd: dir }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (config !== null) repo.writeConfig(config);
  return repo;
}

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { env: gitEnv(), encoding: 'utf8' }).trim();
}

export const loadConfigIn = (dir: string): LoadedConfig => loadConfig({ cwd: dir });

/** A temp directory that is not a repository (for the pure store tests). */
export function tempDir(): { dir: string; paths: StatePaths; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'si-state-'));
  return { dir, paths: statePaths(dir), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A factory of temp directories, all removed once the calling test file's tests are done. */
export function tempDirsRemovedAfter(): () => ReturnType<typeof tempDir> {
  const dirs: ReturnType<typeof tempDir>[] = [];
  after(() => dirs.forEach((d) => d.remove()));
  return () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
}

/** The config the runtime sees, for tests that do not go through a config file. */
export function resolvedConfig(stateDir: string, overrides: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return {
    mode: 'shadow',
    remote: 'origin',
    main_branch: 'main',
    state_dir: stateDir,
    lease: { ttl_seconds: 60, renew_every_seconds: 10 },
    grace_seconds: 0,
    fetch: false,
    engine: 'merge-tree',
    checks: [],
    git_timeout_seconds: 120,
    base: 'queue',
    ...overrides,
  };
}

// ---- readiness events ----

export const T0 = Date.UTC(2026, 0, 1);
/** A timestamp `s` seconds after T0. */
export const at = (s: number) => new Date(T0 + s * 1000).toISOString();
export const shaOf = (n: number) => n.toString(16).padStart(40, '0');

export function approved(slug: string, extra: Partial<ReadinessEvent> = {}): ReadinessEvent {
  return { type: 'review_approved', slug, approved_at: at(0), review_round: 1, reviewer_session_id: 'rev', ...extra } as ReadinessEvent;
}

export function finalized(slug: string, branch: string, sha: string, readyAt: string, extra: Partial<ReadinessEvent> = {}): ReadinessEvent {
  return { type: 'finalize_ready', slug, branch, sha, worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: readyAt, ...extra } as ReadinessEvent;
}

export function pushed(branch: string, sha: string, remote = 'origin', extra: Partial<ReadinessEvent> = {}): ReadinessEvent {
  return { type: 'branch_pushed', branch, sha, remote, pushed_at: at(0), pusher: 'agent', ...extra } as ReadinessEvent;
}

/** The three events that make candidate n (slug s<n>, branch b<n>) ready at `readyAt`. */
export function candidateEvents(n: number, readyAt = at(n)): [ReadinessEvent, ReadinessEvent, ReadinessEvent] {
  return [approved(`s${n}`, { id: `ra-${n}` }), finalized(`s${n}`, `b${n}`, shaOf(n), readyAt, { id: `fr-${n}` }), pushed(`b${n}`, shaOf(n), 'origin', { id: `bp-${n}` })];
}

export const keyOf = (c: { slug: string; branch: string; sha: string }) => `${c.slug} ${c.branch} ${c.sha}`;

/** Appends events (objects), raw text lines (strings, newline added) or raw bytes (as given). */
export function appendEvents(file: string, items: readonly (object | string | Buffer)[]): void {
  const parts = items.map((it) => (Buffer.isBuffer(it) ? it : Buffer.from(`${typeof it === 'string' ? it : JSON.stringify(it)}\n`)));
  appendFileSync(file, Buffer.concat(parts));
}

/** The counts of one HolderSession.ingest() (whatever else it reports). */
export const tally = (r: { accepted: number; rejected: number; enqueued: number; superseded: number }) => ({ accepted: r.accepted, rejected: r.rejected, enqueued: r.enqueued, superseded: r.superseded });

// ---- context, clock, evaluator ----

export interface LogLine {
  level: LogLevel;
  event: string;
  fields: LogFields;
}

export interface TestContext extends Context {
  logs: LogLine[];
  out: string[];
  events(name: string): LogLine[];
}

/** A clock that only moves when told to. */
export function manualClock(start = Date.UTC(2026, 5, 1, 12)): { now: () => Date; advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return { now: () => new Date(t), advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

/** Timers that fire only when the test says so: a renewal or a grace wait never depends on machine speed. */
export interface ManualTimers extends Timers {
  /** Scheduled timers (intervals stay scheduled until cleared). */
  pending(): number;
  /** Fires every scheduled timer once: one renewal tick, every due timeout. */
  tick(): void;
}

export function manualTimers(): ManualTimers {
  const timers = new Map<number, { fn: () => void; interval: boolean }>();
  let next = 1;
  const add = (fn: () => void, interval: boolean) => {
    const id = next++;
    timers.set(id, { fn, interval });
    return id;
  };
  return {
    setTimeout: (fn) => add(fn, false),
    setInterval: (fn) => add(fn, true),
    clearTimeout: (id) => void timers.delete(id as number),
    clearInterval: (id) => void timers.delete(id as number),
    pending: () => timers.size,
    tick: () => {
      for (const [id, t] of [...timers]) {
        if (!t.interval) timers.delete(id);
        t.fn();
      }
    },
  };
}

export function testContext(opts: { now?: () => Date; cwd?: string; timers?: Timers } = {}): TestContext & { timers: Timers } {
  const logs: LogLine[] = [];
  const out: string[] = [];
  return {
    ...quietContext({ cwd: opts.cwd ?? process.cwd(), now: opts.now ?? (() => new Date()) }),
    // No real timer runs in an in-process runtime test unless the test asks for one.
    timers: opts.timers ?? manualTimers(),
    logger: { log: (level, event, fields = {}) => void logs.push({ level, event, fields }) },
    stdout: (text) => void out.push(text),
    logs,
    out,
    events: (name) => logs.filter((l) => l.event === name),
  };
}

const clean: Evaluation = { outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: null, merge_base: null, merged_tree: null };

export interface RecordingEngine {
  /** Slugs in the order they were evaluated. */
  order: string[];
  /** Engines created (one per tenure) and closed. */
  opened: number;
  closed: number;
  engine: EngineFactory;
  evaluate: Engine['evaluate'];
}

/** An engine that decides every candidate at once, would_integrate, remembering the order it saw them in. */
export function recordingEngine(hook?: (item: QueueItem, signal: AbortSignal) => void | Promise<void>): RecordingEngine {
  const r: RecordingEngine = {
    order: [],
    opened: 0,
    closed: 0,
    evaluate: async (item, signal) => {
      r.order.push(item.slug);
      await hook?.(item, signal);
      return clean;
    },
    engine: () => {
      r.opened += 1;
      return { evaluate: r.evaluate, close: () => Promise.resolve(void (r.closed += 1)) };
    },
  };
  return r;
}

/** An engine for `session.drain`: the recording one's evaluate, nothing to close. */
export const engineOf = (r: RecordingEngine): Engine => ({ evaluate: r.evaluate, close: () => Promise.resolve() });

/** A signal that never aborts: drain until the queue is empty. */
export const never = (): AbortSignal => new AbortController().signal;

export function owner(runId: string, host = hostname(), pid = process.pid): Owner {
  return { host, pid, run_id: runId };
}

/** Acquires the lease for a fresh owner; fails the test when it is not free. */
export async function holdLease(paths: StatePaths, now: Date, runId = 'test', ttlSeconds = 60, host = hostname()): Promise<HeldLease> {
  const r = await acquireLease(paths, owner(runId, host), () => now, ttlSeconds);
  assert.ok(r.acquired, `lease not acquired: ${JSON.stringify(r)}`);
  return r.held;
}

/** A journal as a holder left it: these live items, nothing of the log consumed (no checkpoint). */
export function writeQueueJournal(paths: StatePaths, items: readonly QueueItem[], epoch = 1): void {
  const nowhere = { head_len: 0, head_hash: '', offset: 0 };
  const round = {
    epoch,
    at: at(0),
    log: { dev: 0, ino: 0, offset: 0, lines: 0, base: 0 },
    ledger: nowhere,
    rejected: { count: 0, position: nowhere },
    counts: { would_integrate: 0, would_block: 0, superseded: 0 },
    snapshot: null,
    queue: { live: items.length, waiting: 0 },
  };
  writeJournal(paths, journalFile(epoch, 0), { t: 'base', epoch, at: at(0), items: items.length, round }, items).close();
}

// ---- ledger checks ----

export const ledger = (paths: StatePaths): Outcome[] => readOutcomes(paths).outcomes;

/** Each epoch's outcomes form one contiguous block, and epochs only grow: never two holders at once. */
export function assertEpochsContiguous(outcomes: readonly Outcome[]): void {
  const closed = new Set<number>();
  let current = -1;
  for (const [i, o] of outcomes.entries()) {
    if (o.lease_epoch === current) continue;
    assert.ok(!closed.has(o.lease_epoch) && o.lease_epoch > current, `outcome ${i}: epoch ${o.lease_epoch} writes again after epoch ${current}`);
    closed.add(current);
    current = o.lease_epoch;
  }
}

/** Exactly one outcome for each expected candidate and none for anything else. */
export function assertExactlyOnce(outcomes: readonly Outcome[], expected: Iterable<string>): void {
  const count = new Map<string, number>();
  for (const o of outcomes) count.set(keyOf(o), (count.get(keyOf(o)) ?? 0) + 1);
  const want = new Set(expected);
  const problems: string[] = [];
  for (const k of want) if (count.get(k) !== 1) problems.push(`${k}: ${count.get(k) ?? 0} outcomes`);
  for (const k of count.keys()) if (!want.has(k)) problems.push(`${k}: unexpected outcome`);
  assert.deepEqual(problems, []);
}

// ---- processes ----

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Collects a child's output until it exits; `input` is written to its stdin (which is then closed). */
export function finished(child: ChildProcess, input?: string): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export const runCli = (cwd: string, args: readonly string[], input?: string): Promise<RunResult> => finished(startCli(cwd, args), input);

export const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Polls until `cond` holds; the timeout only turns a hang into a failure with a name. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Runs `drain --json` until it reports idle (a lease may first have to be released or expire). */
export async function drainToEnd(cwd: string, maxRounds = 60): Promise<void> {
  for (let i = 0; i < maxRounds; i++) {
    const r = await runCli(cwd, ['drain', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const status = (JSON.parse(r.stdout) as { status: string }).status;
    if (status === 'idle') return;
    if (status === 'lease_busy') await sleep(200);
  }
  throw new Error('the queue did not drain');
}
