/**
 * Ingestion at scale: a generated readiness log of 1,000,000 events (~300,000 candidates, some
 * superseded, some duplicates), ingested by a real lease holder (projection, queue, ledger,
 * checkpoint), then a restart from that checkpoint. Prints events/s, peak RSS and restart time.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { ResolvedConfig } from '../src/config/config.js';
import { quietContext, type Context } from '../src/context.js';
import { acquireLease, releaseLease, selfOwner } from '../src/runtime/lease-store.js';
import { HolderSession } from '../src/runtime/session.js';
import { writeJsonAtomic } from '../src/store/atomic-json.js';
import { statePaths } from '../src/store/paths.js';

export interface IngestBenchResult {
  events: number;
  candidates: number;
  bytes: number;
  ingest_ms: number;
  events_per_s: number;
  peak_rss_mb: number;
  checkpoint_ms: number;
  queued: number;
  /** Restart with every candidate still queued (nothing drained): loads the checkpoint and a queue of that size. */
  restart_ms: number;
  /** Restart in the steady state of a draining integrator: every candidate decided, the queue empty. */
  restart_drained_ms: number;
  restart_drained_rss_mb: number;
  drained_queue: number;
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
  git_timeout_seconds: 120,
  base: 'queue',
});

/** Reads VmHWM: the peak resident set of this process since it started. */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.memoryUsage().rss / 1024 / 1024);
}

const quietDir = (dir: string): Context => quietContext({ cwd: dir });
const noEvaluation = () => Promise.reject(new Error('not draining in this benchmark'));

/** One holder tenure that ingests everything new, checkpoints and releases; run in a fresh process. */
async function holderIngest(dir: string, drainedAfter: boolean): Promise<{ ingest_ms: number; checkpoint_ms: number; accepted: number; queued: number; peak_rss_mb: number }> {
  const paths = statePaths(dir);
  const acq = await acquireLease(paths, selfOwner('bench'), new Date(), 600);
  if (!acq.acquired) throw new Error('lease busy');
  const t0 = performance.now();
  const session = await HolderSession.open({ paths, config: config(dir), ctx: quietDir(dir), held: acq.held, evaluate: noEvaluation });
  const got = await session.ingest();
  const ingestMs = performance.now() - t0;
  if (drainedAfter) {
    // The state a long-running integrator is in: every candidate decided, the queue empty.
    for (const item of [...session.queue.list()]) {
      session.projection.markDecided(item);
      session.queue.drop(item);
    }
    writeJsonAtomic(paths.queue, session.queue.toFile(new Date(), acq.held.epoch));
  }
  const t1 = performance.now();
  await session.checkpoint();
  const checkpointMs = performance.now() - t1;
  await releaseLease(paths, acq.held, () => new Date());
  return { ingest_ms: ingestMs, checkpoint_ms: checkpointMs, accepted: got.accepted, queued: session.queue.length, peak_rss_mb: peakRssMb() };
}

function inChild<T>(mode: string, dir: string): T {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), mode, dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as T;
}

export function benchIngest(events = 1_000_000): IngestBenchResult {
  const dir = mkdtempSync(join(tmpdir(), 'si-bench-ingest-'));
  try {
    const { candidates, bytes } = generateLog(statePaths(dir).readiness, events);
    type Run = Awaited<ReturnType<typeof holderIngest>>;
    const first = inChild<Run>('--ingest', dir);
    if (first.accepted !== events) throw new Error(`ingested ${first.accepted} of ${events} events`);
    // A restart: a fresh process loads the checkpoint and finds nothing new to read.
    const restart = inChild<Run>('--ingest', dir);
    if (restart.accepted !== 0) throw new Error(`restart re-read ${restart.accepted} events`);
    const drained = inChild<Run>('--ingest-drained', dir);
    const restartDrained = inChild<Run>('--ingest', dir);
    return {
      events,
      candidates,
      bytes,
      ingest_ms: Math.round(first.ingest_ms),
      events_per_s: Math.round(events / (first.ingest_ms / 1000)),
      peak_rss_mb: first.peak_rss_mb,
      checkpoint_ms: Math.round(first.checkpoint_ms),
      queued: first.queued,
      restart_ms: Math.round(restart.ingest_ms),
      restart_drained_ms: Math.round(restartDrained.ingest_ms),
      restart_drained_rss_mb: restartDrained.peak_rss_mb,
      drained_queue: drained.queued,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, arg] = process.argv.slice(2);
if (mode === '--ingest' || mode === '--ingest-drained') {
  process.stdout.write(JSON.stringify(await holderIngest(arg as string, mode === '--ingest-drained')));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(benchIngest(Number(mode ?? 1_000_000)), null, 2));
}
