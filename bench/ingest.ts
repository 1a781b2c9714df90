/**
 * Ingestion at scale: a generated readiness log of 1,000,000 events (~300,000 candidates, some
 * superseded, some duplicates), ingested by a real lease holder (projection, queue, ledger,
 * checkpoint), then a restart from that checkpoint. Prints events/s, peak RSS and restart time.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../src/config/config.js';
import { silentLogger, type Context } from '../src/context.js';
import { acquireLease, releaseLease, selfOwner } from '../src/runtime/lease-store.js';
import { HolderSession } from '../src/runtime/session.js';
import { statePaths } from '../src/store/paths.js';

export interface IngestBenchResult {
  events: number;
  candidates: number;
  bytes: number;
  ingest_ms: number;
  events_per_s: number;
  peak_rss_mb: number;
  checkpoint_ms: number;
  restart_ms: number;
  queued: number;
}

const hex = (n: number) => n.toString(16).padStart(40, '0');

/** Writes `events` lines: for each candidate review_approved, finalize_ready, branch_pushed; every 10th slug is re-finalized. */
export function generateLog(file: string, events: number): { candidates: number; bytes: number } {
  const base = Date.parse('2026-01-01T00:00:00Z');
  const fd = openSync(file, 'w');
  let lines: string[] = [];
  let written = 0;
  let bytes = 0;
  let candidates = 0;
  // Written in pieces so the generator's own garbage does not inflate the measured peak RSS.
  const flush = () => {
    const text = lines.slice(0, events - written).map((l) => `${l}\n`).join('');
    written += Math.min(lines.length, events - written);
    bytes += writeSync(fd, text);
    lines = [];
  };
  for (let i = 0; written + lines.length < events; i++) {
    if (lines.length >= 10_000) flush();
    const slug = `task-${i}`;
    const branch = `agent/${i % 64}/${slug}`;
    const at = (k: number) => new Date(base + i * 1000 + k).toISOString();
    lines.push(JSON.stringify({ type: 'review_approved', id: `r-${i}`, slug, approved_at: at(0), review_round: 1, reviewer_session_id: 'rev' }));
    lines.push(JSON.stringify({ type: 'finalize_ready', id: `f-${i}`, slug, branch, sha: hex(i * 2), worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: at(1) }));
    lines.push(JSON.stringify({ type: 'branch_pushed', id: `p-${i}`, branch, sha: hex(i * 2), remote: 'origin', pushed_at: at(2), pusher: 'agent' }));
    candidates += 1;
    if (i % 10 === 9) {
      lines.push(JSON.stringify({ type: 'finalize_ready', id: `f2-${i}`, slug, branch, sha: hex(i * 2 + 1), worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: at(5) }));
      candidates += 1;
    }
  }
  flush();
  closeSync(fd);
  return { candidates, bytes };
}

const config = (stateDir: string): ResolvedConfig => ({
  mode: 'shadow',
  remote: 'origin',
  main_branch: 'main',
  state_dir: stateDir,
  lease: { ttl_seconds: 600, renew_every_seconds: 60 },
  grace_seconds: 0,
  fetch: false,
  engine: 'merge-tree',
  checks: [],
});

export async function benchIngest(events = 1_000_000): Promise<IngestBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'si-bench-ingest-'));
  try {
    const paths = statePaths(dir);
    const { candidates, bytes } = generateLog(paths.readiness, events);
    const ctx: Context = { cwd: dir, env: {}, now: () => new Date(), logger: silentLogger, stdout: () => {} };
    const cfg = config(dir);
    const evaluate = () => Promise.reject(new Error('not draining in this benchmark'));

    if (global.gc) global.gc();
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const acq = await acquireLease(paths, selfOwner('bench'), new Date(), 600);
    if (!acq.acquired) throw new Error('lease busy');
    if (global.gc) global.gc();
    const t0 = performance.now();
    const session = await HolderSession.open({ paths, config: cfg, ctx, held: acq.held, evaluate });
    await session.ingest();
    const ingestMs = performance.now() - t0;
    peak = Math.max(peak, process.memoryUsage().rss);
    const t1 = performance.now();
    await session.checkpoint();
    const checkpointMs = performance.now() - t1;
    clearInterval(sampler);
    const queued = session.queue.length;
    await releaseLease(paths, acq.held, () => new Date());

    // Restart: a new holder loads the checkpoint and finds nothing new to read.
    const acq2 = await acquireLease(paths, selfOwner('bench-restart'), new Date(), 600);
    if (!acq2.acquired) throw new Error('lease busy');
    const t2 = performance.now();
    const restarted = await HolderSession.open({ paths, config: cfg, ctx, held: acq2.held, evaluate });
    const again = await restarted.ingest();
    const restartMs = performance.now() - t2;
    if (again.accepted !== 0) throw new Error(`restart re-read ${again.accepted} events`);
    await releaseLease(paths, acq2.held, () => new Date());

    return {
      events,
      candidates,
      bytes,
      ingest_ms: Math.round(ingestMs),
      events_per_s: Math.round(events / (ingestMs / 1000)),
      peak_rss_mb: Math.round(peak / 1024 / 1024),
      checkpoint_ms: Math.round(checkpointMs),
      restart_ms: Math.round(restartMs),
      queued,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 1_000_000);
  console.log(JSON.stringify(await benchIngest(n), null, 2));
}
