/**
 * Per-candidate evaluation, side by side for the same merges in one run: raw `git merge-tree
 * --write-tree` (the floor), `merge-tree --stdin` (a process per merge, and one process for all of
 * them), this tool's full evaluation (fresh readiness re-check + merge + durable ledger append) cold
 * — a new engine per candidate, as a one-shot `drain` runs — and warm — one engine for all of them,
 * as a holder's tenure runs — and what most merge bots do (a fresh `git worktree add` + `git merge
 * --no-commit`). On the large generated repository, and on a real project's history when one is
 * given (bench/real-history.ts). Then base: queue beside base: tip for the same queue, and a queue
 * of 1,000 candidates drained end to end.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createLargeRepo, type LargeRepo } from '../fixtures/large.js';
import { loadConfig } from '../src/config/config.js';
import { quietContext, silentLogger, systemTimers, type Context } from '../src/context.js';
import type { StackEntry } from '../src/contract/types.generated.js';
import { createEngine, type Candidate, type EngineOptions, type Evaluation, type EvaluationContext } from '../src/engine/evaluate.js';
import { appendOutcomes } from '../src/ledger/ledger.js';
import { HolderLog } from '../src/store/holder-log.js';
import { drain } from '../src/runtime/drain.js';
import { engineFactory } from '../src/runtime/evaluator.js';
import { appendRecords } from '../src/store/jsonl.js';
import { statePaths } from '../src/store/paths.js';

const run = promisify(execFile);
const CACHE = join(process.cwd(), '.bench-cache', 'large');

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** An engine as a bench runs it: merge-tree, no fetch, no checks, the real clock and a silent log. */
export function benchEngineOptions(repoDir: string, commonDir: string, stateDir: string, gitTimeoutSeconds: number): EngineOptions {
  return {
    repoDir,
    commonDir,
    stateDir,
    config: { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [], git_timeout_seconds: gitTimeoutSeconds },
    env: process.env,
    timers: systemTimers,
    now: () => new Date(),
    logger: silentLogger,
  };
}

export function largeRepo(): LargeRepo {
  return createLargeRepo({ dir: CACHE, files: 20_000, commits: 3_000, candidates: 1_000 });
}

/** The merges of one benchmark: a repository, its main, and candidates grouped by kind. */
export interface MergeSet {
  label: string;
  /** The repository (a worktree, or a bare repository). */
  repoDir: string;
  commonDir: string;
  candidates: (Candidate & { kind: string })[];
  /** Check each decision: an expected outcome by kind (the generated repository knows its own). */
  expect?: (c: Candidate & { kind: string }, e: Evaluation) => string | null;
  /** Also time a fresh worktree + real merge for this many candidates of each kind. */
  worktrees: number;
}

export function largeSet(repo: LargeRepo, perKind: number): MergeSet {
  const candidates = (['clean', 'conflict'] as const).flatMap((kind) => repo.candidates.filter((c) => c.expect === kind).slice(0, perKind).map((c) => ({ ...c, kind })));
  return {
    label: 'generated: 20,000 files, 3,000 commits',
    repoDir: repo.clone,
    commonDir: join(repo.clone, '.git'),
    candidates,
    expect: (c, e) => ((e.outcome === 'would_integrate') === (c.kind === 'clean') ? null : `${c.slug}: expected ${c.kind}, got ${e.outcome} ${e.reasons.join(',')} ${e.message ?? ''}`),
    worktrees: Number(process.env.BENCH_WORKTREES ?? 3),
  };
}

function objectsEnv(objects: string, alternate: string): NodeJS.ProcessEnv {
  return { ...process.env, GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: alternate, GIT_OPTIONAL_LOCKS: '0' };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** `git merge-tree --stdin` fed `lines`, stdin closed, all of its output read. */
function mergeTreeStdin(cwd: string, env: NodeJS.ProcessEnv, lines: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', ['merge-tree', '--stdin', '--name-only'], { cwd, env, stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`merge-tree --stdin exited ${code}`))));
    child.stdin.end(lines.join(''));
  });
}

export interface EvaluationRow {
  repo: string;
  kind: string;
  samples: number;
  /** `git merge-tree --write-tree`, one process per merge: the floor. */
  raw_ms: number;
  /** The same with the tool's commit-graph as an alternate: how much of the tool's lead is the graph. */
  raw_graph_ms: number;
  /** `git merge-tree --stdin`, one process per merge. */
  stdin_ms: number;
  /** `git merge-tree --stdin`, one process for all the merges of this kind, per merge. */
  batch_ms: number;
  /** The tool, a new engine per candidate (a one-shot drain). */
  cold_ms: number;
  /** The tool, one engine for every candidate (a holder's tenure). */
  warm_ms: number;
  fresh_worktree_ms: number | null;
}

/**
 * Every measure for every candidate of `set`, interleaved candidate by candidate so that the
 * machine's noise falls on all of them alike; medians by kind.
 */
export async function benchEvaluation(set: MergeSet): Promise<EvaluationRow[]> {
  const alternate = join(set.commonDir, 'objects');
  const objects = mkdtempSync(join(tmpdir(), 'si-bench-objects-'));
  const state = mkdtempSync(join(tmpdir(), 'si-bench-state-'));
  const ledger = HolderLog.open(join(state, 'outcomes.jsonl'), { rotatable: true });
  const engineOptions = benchEngineOptions(set.repoDir, set.commonDir, state, 120);
  const record = (c: Candidate & { kind: string }, ev: Evaluation, started: number) => {
    const problem = set.expect?.(c, ev);
    if (problem) throw new Error(problem);
    const now = new Date().toISOString();
    appendOutcomes(ledger, [{ schema_version: 1, slug: c.slug, branch: c.branch, sha: c.sha, ...ev, conflicts: ev.conflicts, ready_at: now, enqueued_at: now, decided_at: now, lease_epoch: 1, duration_ms: performance.now() - started }], { fsync: true });
  };
  const env = objectsEnv(objects, alternate);
  const raw = (c: Candidate, withEnv = env) =>
    run('git', ['merge-tree', '--write-tree', 'refs/remotes/origin/main', c.sha], { cwd: set.repoDir, env: withEnv, maxBuffer: 1 << 26 }).catch((e: { code?: number }) => {
      if (e.code !== 1) throw e; // exit 1 = conflicts
    });
  const graphEnv = objectsEnv(objects, `${alternate}:${join(state, 'cache', 'commit-graph')}`);
  const warm = createEngine(engineOptions);
  const rows: EvaluationRow[] = [];
  const decided: [Candidate, Evaluation][] = [];
  try {
    // Warm the page cache, and let the tool write its commit-graph (in the background, as it does).
    const first = set.candidates[0];
    if (first) {
      await raw(first);
      await warm.evaluate(first);
      const graph = join(state, 'cache', 'commit-graph.json');
      for (let t = Date.now(); !existsSync(graph) && Date.now() - t < 120_000; ) await new Promise((r) => setTimeout(r, 50));
    }
    const mainSha = (await run('git', ['rev-parse', 'refs/remotes/origin/main'], { cwd: set.repoDir })).stdout.trim();
    for (const kind of [...new Set(set.candidates.map((c) => c.kind))]) {
      const picks = set.candidates.filter((c) => c.kind === kind);
      const times = { raw: [] as number[], rawGraph: [] as number[], stdin: [] as number[], cold: [] as number[], warm: [] as number[], worktree: [] as number[] };
      for (const c of picks) {
        times.raw.push(await time(() => raw(c)));
        times.rawGraph.push(await time(() => raw(c, graphEnv)));
        times.stdin.push(await time(() => mergeTreeStdin(set.repoDir, env, [`${mainSha} ${c.sha}
`])));
        times.cold.push(
          await time(async () => {
            const started = performance.now();
            const engine = createEngine(engineOptions);
            try {
              record(c, await engine.evaluate(c), started);
            } finally {
              await engine.close();
            }
          }),
        );
        times.warm.push(
          await time(async () => {
            const started = performance.now();
            const ev = await warm.evaluate(c);
            record(c, ev, started);
            decided.push([c, ev]);
          }),
        );
      }
      const batch = (await time(() => mergeTreeStdin(set.repoDir, env, picks.map((c) => `${mainSha} ${c.sha}
`)))) / picks.length;
      for (const c of picks.slice(0, Math.min(set.worktrees, picks.length))) times.worktree.push(await time(() => freshWorktreeMerge(set.repoDir, c, env)));
      rows.push({
        repo: set.label,
        kind,
        samples: picks.length,
        raw_ms: median(times.raw),
        raw_graph_ms: median(times.rawGraph),
        stdin_ms: median(times.stdin),
        batch_ms: batch,
        cold_ms: median(times.cold),
        warm_ms: median(times.warm),
        fresh_worktree_ms: times.worktree.length > 0 ? median(times.worktree) : null,
      });
    }
    // Untimed: every merge base the tool recorded is git's.
    for (const [c, ev] of decided) {
      if (ev.merge_base === null) continue;
      const git = (await run('git', ['merge-base', ev.main_sha as string, c.sha], { cwd: set.repoDir })).stdout.trim();
      if (git !== ev.merge_base) throw new Error(`${c.slug}: merge base ${ev.merge_base}, git says ${git}`);
    }
  } finally {
    await warm.close();
    ledger.close();
    rmSync(objects, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
  return rows;
}

/** What most merge bots do per candidate: a fresh worktree, a real merge, then clean up. */
async function freshWorktreeMerge(repoDir: string, c: Candidate, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'si-bench-wt-'));
  try {
    await run('git', ['worktree', 'add', '-q', '--detach', dir, 'refs/remotes/origin/main'], { cwd: repoDir, env });
    await run('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'merge', '--no-commit', '--no-ff', '-q', c.sha], { cwd: dir, env }).catch(() => undefined);
  } finally {
    await run('git', ['worktree', 'remove', '--force', dir], { cwd: repoDir, env }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface DrainRow {
  candidates: number;
  seconds: number;
  candidates_per_s: number;
  would_integrate: number;
  would_block: number;
}

/** 1,000 candidates emitted as readiness, then one `drain` (lease, ingestion, evaluation, ledger) end to end. */
export async function benchDrain(repo: LargeRepo): Promise<DrainRow> {
  const state = mkdtempSync(join(tmpdir(), 'si-bench-drain-'));
  try {
    writeFileSync(join(state, 'config.yml'), 'mode: shadow\ngrace_seconds: 0\n');
    const loaded = loadConfig({ cwd: repo.clone, configPath: join(state, 'config.yml'), stateDir: state });
    mkdirSync(state, { recursive: true });
    const t0 = Date.UTC(2026, 0, 1);
    const lines = repo.candidates.flatMap((c, i) => {
      const at = (k: number) => new Date(t0 + i * 1000 + k).toISOString();
      return [
        { type: 'review_approved', id: `ra-${i}`, slug: c.slug, approved_at: at(0), review_round: 1, reviewer_session_id: 'r' },
        { type: 'finalize_ready', id: `fr-${i}`, slug: c.slug, branch: c.branch, sha: c.sha, worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: at(1) },
        { type: 'branch_pushed', id: `bp-${i}`, branch: c.branch, sha: c.sha, remote: 'origin', pushed_at: at(2), pusher: 'agent' },
      ];
    });
    appendRecords(statePaths(state).readiness, lines);
    const ctx: Context = quietContext({ cwd: repo.clone, env: process.env });
    const t = performance.now();
    const report = await drain(loaded, ctx, { engine: engineFactory(loaded, ctx) });
    const seconds = (performance.now() - t) / 1000;
    if (report.status !== 'done') throw new Error(`drain ended ${report.status}`);
    return { candidates: report.decided, seconds, candidates_per_s: report.decided / seconds, would_integrate: report.counts.would_integrate, would_block: report.counts.would_block };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

export interface QueueOrderRow {
  repo: string;
  candidates: number;
  /** Rounds each mode ran; every figure is the median of the rounds' per-candidate means. */
  rounds: number;
  /** One raw `git merge-tree --write-tree` process per candidate, onto main: the floor. */
  raw_ms: number;
  /** base: tip, one candidate at a time (no merges ahead): today's warm evaluation. */
  tip_ms: number;
  /** base: tip, the next candidates merged in the same batch onto the same main. */
  tip_batched_ms: number;
  /** base: queue: each candidate onto main plus the stack, merges batched ahead after blocks. */
  queue_ms: number;
  /** A new engine per candidate (a `drain` per candidate): base: tip; base: queue taking the stack the engine before kept (cache/stack/); base: queue with that cache removed before each. */
  cold_tip_ms: number;
  cold_queue_ms: number;
  cold_queue_uncached_ms: number;
  would_integrate: number;
  would_block: number;
  /** Blocks that came from the stack (collides_with). */
  stack_blocks: number;
  /** The stack's depth at the end of the queue. */
  stack: number;
  /** main then moves by one commit: the next candidate, with the whole stack merged again onto the new main, beside it with base: tip. */
  moved_queue_ms: number;
  /** Its outcome: a would_block includes finding whom it collides with. */
  moved_queue_outcome: string;
  moved_tip_ms: number;
}

/**
 * base: queue beside base: tip, the same candidates in the same queue order (kinds interleaved), each
 * through a warm engine as a holder's tenure runs them — re-check, merge, durable ledger append —
 * with the raw merge-tree floor measured in the same rounds. The repository is a bare copy that
 * borrows the set's objects, so that main can be moved afterwards: the stack's cost when main moves
 * (every entry merged again, in order) is measured too, beside the same candidate with base: tip.
 */
export async function benchQueueOrder(set: MergeSet, rounds: number): Promise<QueueOrderRow> {
  const byKind = [...new Set(set.candidates.map((c) => c.kind))].map((k) => set.candidates.filter((c) => c.kind === k));
  const order: Candidate[] = [];
  for (let i = 0; order.length < set.candidates.length; i++) for (const list of byKind) if (list[i]) order.push(list[i] as Candidate);
  const repo = mkdtempSync(join(tmpdir(), 'si-bench-queue-'));
  const state = mkdtempSync(join(tmpdir(), 'si-bench-queue-state-'));
  const objects = mkdtempSync(join(tmpdir(), 'si-bench-queue-objects-'));
  const git = async (args: string[], input?: string) => {
    const identity = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@bench.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@bench.invalid' };
    const child = spawn('git', args, { cwd: repo, env: { ...process.env, ...identity, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' }, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // A git that reads no input may have exited before it was closed.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    if (code !== 0) throw new Error(`git ${args.join(' ')} exited ${code}`);
    return out.trim();
  };
  try {
    await git(['init', '-q', '--bare', '.']);
    writeFileSync(join(repo, 'objects', 'info', 'alternates'), `${join(set.commonDir, 'objects')}\n`);
    const main = (await run('git', ['rev-parse', 'refs/remotes/origin/main'], { cwd: set.repoDir })).stdout.trim();
    await git(['update-ref', '--stdin'], [`update refs/remotes/origin/main ${main}`, ...set.candidates.map((c) => `update refs/remotes/origin/${c.branch} ${c.sha}`)].join('\n') + '\n');
    const options = benchEngineOptions(repo, repo, state, 600);
    // The commit-graph the tool writes for this repository, once, before anything is timed; and a
    // candidate held back for after main moves, one that merges cleanly (its cost is the stack's, not a conflict's).
    const warmUp = createEngine(options);
    let last: Candidate | undefined;
    for (let i = order.length - 1; i >= 0 && !last; i--) if ((await warmUp.evaluate(order[i] as Candidate)).outcome === 'would_integrate') last = order.splice(i, 1)[0];
    if (!last) throw new Error(`${set.label}: no candidate merges cleanly`);
    for (let t = Date.now(); !existsSync(join(state, 'cache', 'commit-graph.json')) && Date.now() - t < 300_000; ) await new Promise((r) => setTimeout(r, 50));
    await warmUp.close();

    const ledger = HolderLog.open(join(state, 'outcomes.jsonl'), { rotatable: true });
    const append = (c: Candidate, ev: Evaluation, started: number) => {
      const now = new Date().toISOString();
      const { stack: _stack, ...fields } = ev;
      appendOutcomes(ledger, [{ schema_version: 2, slug: c.slug, branch: c.branch, sha: c.sha, ...fields, ahead: fields.ahead ?? [], ready_at: now, enqueued_at: now, decided_at: now, lease_epoch: 1, duration_ms: performance.now() - started }], { fsync: true });
    };
    const env = objectsEnv(objects, join(set.commonDir, 'objects'));
    const upcoming = (i: number) => order.slice(i + 1, i + 33);
    type Pass = { ms: number; stack: StackEntry[]; engine: ReturnType<typeof createEngine>; counts: { would_integrate: number; would_block: number; stack_blocks: number } };
    type Mode = 'tip' | 'tip-batched' | 'queue' | 'cold-tip' | 'cold-queue' | 'cold-queue-uncached';
    const keptStack = join(state, 'cache', 'stack');
    const pass = async (mode: Mode): Promise<Pass> => {
      // Every pass starts with no stack kept by the one before: a warm pass builds its own.
      rmSync(keptStack, { recursive: true, force: true });
      const cold = mode.startsWith('cold-');
      let engine = createEngine(options);
      const stack: StackEntry[] = [];
      const counts = { would_integrate: 0, would_block: 0, stack_blocks: 0 };
      const t = performance.now();
      for (const [i, c] of order.entries()) {
        const started = performance.now();
        if (cold && i > 0) {
          await engine.close();
          if (mode === 'cold-queue-uncached') rmSync(keptStack, { recursive: true, force: true });
          engine = createEngine(options);
        }
        const context: EvaluationContext = mode === 'tip' || mode === 'cold-tip' ? { base: 'tip' } : mode === 'tip-batched' ? { base: 'tip', upcoming: upcoming(i) } : { base: 'queue', stack: [...stack], upcoming: upcoming(i) };
        const ev = await engine.evaluate(c, context);
        append(c, ev, started);
        counts[ev.outcome] += 1;
        if (ev.collides_with) counts.stack_blocks += 1;
        if (context.base === 'queue' && ev.outcome === 'would_integrate') stack.push({ ...c, episode: 1, decided_at: new Date().toISOString(), main_sha: ev.main_sha });
      }
      return { ms: performance.now() - t, stack, engine, counts };
    };
    const times = { raw: [] as number[], tip: [] as number[], batched: [] as number[], queue: [] as number[], coldTip: [] as number[], coldQueue: [] as number[], coldUncached: [] as number[] };
    let queued: Pass | null = null;
    for (let r = 0; r < rounds; r++) {
      times.raw.push(
        await time(async () => {
          for (const c of order) await run('git', ['merge-tree', '--write-tree', main, c.sha], { cwd: repo, env, maxBuffer: 1 << 26 }).catch((e: { code?: number }) => { if (e.code !== 1) throw e; });
        }),
      );
      const modes = [['tip', times.tip], ['tip-batched', times.batched], ['queue', times.queue], ['cold-tip', times.coldTip], ['cold-queue', times.coldQueue], ['cold-queue-uncached', times.coldUncached]] as const;
      // The warm queue pass last: its engine is the one main moves under.
      for (const [mode, into] of [...modes.filter(([m]) => m !== 'queue'), ...modes.filter(([m]) => m === 'queue')]) {
        const p = await pass(mode);
        into.push(p.ms);
        if (mode === 'queue' && r === rounds - 1) queued = p;
        else await p.engine.close();
      }
    }
    if (!queued) throw new Error('no queue pass');
    // main moves by one commit (its own tree again: only the stack's merges change base).
    const moved = await git(['commit-tree', `${main}^{tree}`, '-p', main, '-m', 'main moves'], '');
    await git(['update-ref', 'refs/remotes/origin/main', moved]);
    const started = performance.now();
    const after = await queued.engine.evaluate(last, { base: 'queue', stack: queued.stack });
    // Clean onto main alone, it may still collide with the stack (then its collision check is in the time too).
    if ((after.ahead ?? []).length !== queued.stack.length) throw new Error(`${last.slug} after main moved: onto ${(after.ahead ?? []).length} of ${queued.stack.length}`);
    const movedQueue = performance.now() - started;
    await queued.engine.close();
    const tip = createEngine(options);
    await tip.evaluate(order[0] as Candidate, { base: 'tip' });
    const tipStarted = performance.now();
    await tip.evaluate(last, { base: 'tip' });
    const movedTip = performance.now() - tipStarted;
    await tip.close();
    ledger.close();
    const per = (xs: number[]) => median(xs) / order.length;
    return {
      repo: set.label,
      candidates: order.length,
      rounds,
      raw_ms: per(times.raw),
      tip_ms: per(times.tip),
      tip_batched_ms: per(times.batched),
      queue_ms: per(times.queue),
      cold_tip_ms: per(times.coldTip),
      cold_queue_ms: per(times.coldQueue),
      cold_queue_uncached_ms: per(times.coldUncached),
      ...queued.counts,
      stack: queued.stack.length,
      moved_queue_ms: movedQueue,
      moved_queue_outcome: after.outcome,
      moved_tip_ms: movedTip,
    };
  } finally {
    for (const dir of [repo, state, objects]) rmSync(dir, { recursive: true, force: true });
  }
}
