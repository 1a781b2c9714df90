/**
 * Per-candidate evaluation, side by side for the same merges in one run: raw `git merge-tree
 * --write-tree` (the floor), `merge-tree --stdin` (a process per merge, and one process for all of
 * them), this tool's full evaluation (fresh readiness re-check + merge + durable ledger append) cold
 * — a new engine per candidate, as a one-shot `drain` runs — and warm — one engine for all of them,
 * as a holder's tenure runs — and what most merge bots do (a fresh `git worktree add` + `git merge
 * --no-commit`). On the large generated repository, and on a real project's history when one is
 * given (bench/real-history.ts). Then a queue of 1,000 candidates drained end to end.
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
import { createEngine, type Candidate, type EngineOptions, type Evaluation } from '../src/engine/evaluate.js';
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
  const engineOptions: EngineOptions = {
    repoDir: set.repoDir,
    commonDir: set.commonDir,
    stateDir: state,
    config: { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [], git_timeout_seconds: 120 },
    env: process.env,
    timers: systemTimers,
    now: () => new Date(),
    logger: silentLogger,
  };
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
