/**
 * `watch` latency: from the append of the event that makes a candidate ready to its outcome line in
 * the ledger, with a real `watch` process (chokidar wake-up, lease held through the grace window,
 * git engine on the large repository). Reports p50 and p95.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { LargeRepo } from '../fixtures/large.js';
import { appendRecords } from '../src/store/jsonl.js';
import { statePaths } from '../src/store/paths.js';

const CLI = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));

export interface WatchLatency {
  samples: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] as number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `from`: start from this state directory, moved here (a large history: the latency must not depend
 * on it). Moved, not copied: a copy gives readiness.jsonl a new inode, which the holder rightly takes
 * for a replaced log and reads again from its start.
 */
export async function benchWatch(repo: LargeRepo, samples = 40, from?: string): Promise<WatchLatency> {
  const state = mkdtempSync(join(tmpdir(), 'si-bench-watch-'));
  if (from) renameSync(from, state);
  const config = join(state, 'config.yml');
  writeFileSync(config, 'mode: shadow\ngrace_seconds: 600\n');
  const paths = statePaths(state);
  const watcher = spawn(process.execPath, [CLI, '--config', config, '--state-dir', state, '--log-level', 'warn', 'watch'], { cwd: repo.clone, stdio: 'ignore' });
  const latencies: number[] = [];
  try {
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < samples; i++) {
      const c = repo.candidates[i % repo.candidates.length] as LargeRepo['candidates'][number];
      const slug = `${c.slug}-w${i}`;
      const at = new Date(t0 + i * 1000).toISOString();
      // Approval and finalize first; the push is the event that completes readiness.
      appendRecords(paths.readiness, [
        { type: 'review_approved', id: `wa-${i}`, slug, approved_at: at, review_round: 1, reviewer_session_id: 'r' },
        { type: 'finalize_ready', id: `wf-${i}`, slug, branch: c.branch, sha: c.sha, worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: at },
      ]);
      await sleep(50);
      const before = size(paths.outcomes);
      const started = performance.now();
      appendRecords(paths.readiness, [{ type: 'branch_pushed', id: `wp-${i}-${c.sha.slice(0, 8)}`, branch: c.branch, sha: c.sha, remote: 'origin', pushed_at: at, pusher: 'agent' }]);
      while (size(paths.outcomes) === before) {
        if (performance.now() - started > 30_000) throw new Error('no outcome within 30 s');
        await sleep(1);
      }
      latencies.push(performance.now() - started);
      await sleep(100);
    }
  } finally {
    watcher.kill('SIGTERM');
    await new Promise((r) => watcher.on('close', r));
    rmSync(state, { recursive: true, force: true });
  }
  return { samples: latencies.length, p50_ms: percentile(latencies, 50), p95_ms: percentile(latencies, 95), max_ms: Math.max(...latencies) };
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
