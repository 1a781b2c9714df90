/**
 * Per-candidate evaluation on a large generated repository (≥ 20,000 files, ≥ 3,000 commits), side
 * by side: raw `git merge-tree --write-tree` (the floor), this tool's full evaluation (fresh
 * readiness re-check + merge + ledger append), and what most merge bots do (a fresh
 * `git worktree add` + `git merge --no-commit`). Then a queue of 1,000 candidates drained end to end.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createLargeRepo, type LargeCandidate, type LargeRepo } from '../fixtures/large.js';
import { loadConfig } from '../src/config/config.js';
import { quietContext, silentLogger, systemTimers, type Context } from '../src/context.js';
import { createEngine } from '../src/engine/evaluate.js';
import { appendOutcomes } from '../src/ledger/ledger.js';
import { drain } from '../src/runtime/drain.js';
import { engineEvaluator } from '../src/runtime/evaluator.js';
import { appendRecords } from '../src/store/jsonl.js';
import { statePaths } from '../src/store/paths.js';
import { writeFileSync } from 'node:fs';

const run = promisify(execFile);
const CACHE = join(process.cwd(), '.bench-cache', 'large');

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

export function largeRepo(): LargeRepo {
  return createLargeRepo({ dir: CACHE, files: 20_000, commits: 3_000, candidates: 1_000 });
}

function gitEnv(objects: string, alternate: string): NodeJS.ProcessEnv {
  return { ...process.env, GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: alternate, GIT_OPTIONAL_LOCKS: '0' };
}

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export interface EvaluationRow {
  kind: 'clean' | 'conflict';
  samples: number;
  raw_merge_tree_ms: number;
  tool_ms: number;
  fresh_worktree_ms: number;
}

export async function benchEvaluation(repo: LargeRepo, perKind = 15): Promise<EvaluationRow[]> {
  const alternate = join(repo.clone, '.git', 'objects');
  const objects = mkdtempSync(join(tmpdir(), 'si-bench-objects-'));
  const state = mkdtempSync(join(tmpdir(), 'si-bench-state-'));
  const ledger = join(state, 'outcomes.jsonl');
  const engine = createEngine({ repoDir: repo.clone, commonDir: join(repo.clone, '.git'), stateDir: state, config: { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [], git_timeout_seconds: 120 }, env: process.env, timers: systemTimers, logger: silentLogger });
  const evaluate = (c: LargeCandidate) => engine.evaluate(c);
  const rows: EvaluationRow[] = [];
  try {
    for (const kind of ['clean', 'conflict'] as const) {
      const picks = repo.candidates.filter((c) => c.expect === kind).slice(0, perKind);
      const raw: number[] = [];
      const tool: number[] = [];
      const worktree: number[] = [];
      await evaluate(picks[0] as LargeCandidate); // warm the page cache and git's version check once
      for (const c of picks) {
        raw.push(await time(() => run('git', ['merge-tree', '--write-tree', 'refs/remotes/origin/main', c.sha], { cwd: repo.clone, env: gitEnv(objects, alternate) }).catch((e: { code?: number }) => {
          if (e.code !== 1) throw e; // exit 1 = conflicts, as expected for those
        })));
        tool.push(await time(async () => {
          const started = performance.now();
          const ev = await evaluate(c);
          const now = new Date().toISOString();
          appendOutcomes(ledger, [{ schema_version: 1, slug: c.slug, branch: c.branch, sha: c.sha, ...ev, conflicts: ev.conflicts, ready_at: now, enqueued_at: now, decided_at: now, lease_epoch: 1, duration_ms: performance.now() - started }]);
          if ((ev.outcome === 'would_integrate') !== (kind === 'clean')) throw new Error(`${c.slug}: expected ${kind}, got ${ev.outcome} ${ev.reasons.join(',')}`);
        }));
      }
      for (const c of picks.slice(0, Math.min(Number(process.env.BENCH_WORKTREES ?? 3), picks.length))) worktree.push(await time(() => freshWorktreeMerge(repo, c, objects, alternate)));
      rows.push({ kind, samples: picks.length, raw_merge_tree_ms: median(raw), tool_ms: median(tool), fresh_worktree_ms: median(worktree) });
    }
  } finally {
    await engine.close();
    rmSync(objects, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
  return rows;
}

/** What most merge bots do per candidate: a fresh worktree, a real merge, then clean up. */
async function freshWorktreeMerge(repo: LargeRepo, c: LargeCandidate, objects: string, alternate: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'si-bench-wt-'));
  const env = gitEnv(objects, alternate);
  try {
    await run('git', ['worktree', 'add', '-q', '--detach', dir, 'refs/remotes/origin/main'], { cwd: repo.clone, env });
    await run('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'merge', '--no-commit', '--no-ff', '-q', c.sha], { cwd: dir, env }).catch(() => undefined);
  } finally {
    await run('git', ['worktree', 'remove', '--force', dir], { cwd: repo.clone, env }).catch(() => undefined);
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
    const evaluate = engineEvaluator(loaded, ctx);
    const report = await drain(loaded, ctx, { evaluate }).finally(() => evaluate.close());
    const seconds = (performance.now() - t) / 1000;
    if (report.status !== 'done') throw new Error(`drain ended ${report.status}`);
    return { candidates: report.decided, seconds, candidates_per_s: report.decided / seconds, would_integrate: report.counts.would_integrate, would_block: report.counts.would_block };
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
