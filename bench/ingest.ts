/**
 * State bounded by live work: at 10k, 100k and 1M readiness events of distinct never-ready slugs (two
 * events a slug, no git work at all), measured as a user meets them:
 *
 * - the first ingestion of the whole log, by one holder tenure in a fresh process: events/s, peak
 *   RSS, bytes written, the memory each waiting candidate costs;
 * - a restart: the CLI's `drain` after one new line (black box: a fresh process, wall time, peak
 *   RSS, and the bytes that one-line round wrote);
 * - an idle `drain` (nothing new: what every git hook pays), beside a bare `node -e 0` measured in the
 *   same run;
 * - and the drain of a 10k-item queue: decisions/s per block of 1,000, first against last.
 *
 * Every figure is measured here and printed; nothing is hard-coded.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config/config.js';
import { quietContext } from '../src/context.js';
import { acquireLease, releaseLease, selfOwner } from '../src/runtime/lease-store.js';
import { HolderSession, type Engine } from '../src/runtime/session.js';
import { statePaths } from '../src/store/paths.js';
import { readCheckpointFile } from '../src/store/readers.js';

const CLI = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

export interface StateBenchRow {
  events: number;
  slugs: number;
  log_mb: number;
  ingest_ms: number;
  events_per_s: number;
  ingest_peak_rss_mb: number;
  ingest_written_mb: number;
  snapshot_mb: number;
  /** Heap and typed arrays per waiting candidate, after a GC. */
  bytes_per_waiting: number;
  restart_ms: number;
  restart_peak_rss_mb: number;
  /** wchar of the whole drain process, its log lines on stderr included. */
  restart_written_kb: number;
  idle_ms: number;
  idle_peak_rss_mb: number;
}

export interface StateBench {
  node_e0_ms: number;
  rows: StateBenchRow[];
  queue: QueueDrain;
  /** The largest state, kept when asked (for the watch benchmark on it); the caller removes it. */
  kept_state: string | null;
}

const hex = (n: number) => n.toString(16).padStart(40, '0');
const base = Date.parse('2026-01-01T00:00:00Z');

/** `events` lines of `events / 2` distinct slugs, none of which ever becomes ready: half lack their push, half their approval. */
export function neverReadyLine(i: number, second: boolean): string {
  const slug = `task-${i}`;
  const branch = `agent/${i % 64}/${slug}`;
  const at = new Date(base + i * 1000).toISOString();
  if (!second) return JSON.stringify({ type: 'finalize_ready', ...(i % 2 ? { id: `f-${i}` } : {}), slug, branch, sha: hex(i), worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: at });
  return i % 2
    ? JSON.stringify({ type: 'branch_pushed', branch, sha: hex(i), remote: 'origin', pushed_at: at, pusher: 'agent' })
    : JSON.stringify({ type: 'review_approved', id: `r-${i}`, slug, approved_at: at, review_round: 1, reviewer_session_id: 'rev' });
}

function generateLog(file: string, events: number): number {
  const fd = openSync(file, 'w');
  let bytes = 0;
  let chunk: string[] = [];
  // Written in pieces so that the generator's garbage is not the measured process's (it is not: it runs here).
  for (let i = 0; i < events / 2; i++) {
    chunk.push(neverReadyLine(i, false), neverReadyLine(i, true));
    if (chunk.length >= 20_000) {
      bytes += writeSync(fd, `${chunk.join('\n')}\n`);
      chunk = [];
    }
  }
  if (chunk.length > 0) bytes += writeSync(fd, `${chunk.join('\n')}\n`);
  closeSync(fd);
  return bytes;
}

/** A git repository (for the config lookup) whose state directory holds a generated log. */
function repoWithLog(events: number): { dir: string; state: string; logBytes: number } {
  const dir = mkdtempSync(join(tmpdir(), 'si-bench-state-'));
  execFileSync('git', ['init', '-q', dir]);
  writeFileSync(join(dir, '.shadow-integrator.yml'), 'mode: shadow\ngrace_seconds: 0\n');
  const state = join(dir, '.git', 'shadow-integrator');
  mkdirSync(state, { recursive: true });
  return { dir, state, logBytes: generateLog(join(state, 'readiness.jsonl'), events) };
}

const noEngine: Engine = { evaluate: () => Promise.reject(new Error('nothing is ready in this benchmark')), close: () => Promise.resolve() };

/** Child: one holder tenure that ingests the whole log and ends its round (the snapshot is due), in process. */
async function childIngest(dir: string): Promise<void> {
  const loaded = loadConfig({ cwd: dir });
  const paths = statePaths(loaded.config.state_dir);
  const ctx = quietContext({ cwd: dir });
  const acq = await acquireLease(paths, selfOwner('bench'), ctx.now, 600);
  if (!acq.acquired) throw new Error('lease busy');
  const io0 = wchar();
  const session = await HolderSession.open({ paths, config: loaded.config, ctx, held: acq.held });
  const before = memory();
  const t0 = performance.now();
  const got = await session.ingest();
  const ingestMs = performance.now() - t0;
  const after = memory();
  await session.drain(noEngine, new AbortController().signal);
  await session.endRound();
  session.close();
  await releaseLease(paths, acq.held, ctx.now);
  const waiting = readCheckpointFile(paths)?.round.queue.waiting ?? 0;
  const snapshot = readCheckpointFile(paths)?.round.snapshot?.file;
  process.stdout.write(
    JSON.stringify({
      accepted: got.accepted,
      ingest_ms: ingestMs,
      written: wchar() - io0,
      bytes_per_waiting: waiting > 0 ? (after - before) / waiting : 0,
      snapshot_bytes: snapshot ? statSync(join(paths.dir, snapshot)).size : 0,
      peak_rss_kb: Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0),
    }),
  );
}

/** Heap plus typed arrays and buffers, after a full GC (run with --expose-gc). */
function memory(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const wchar = () => Number(/wchar:\s+(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);

/** Runs the CLI in `dir` under the probe: wall time, peak RSS, bytes written. */
function cli(dir: string, args: string[]): { ms: number; peak_rss_mb: number; written: number } {
  const probe = join(dir, 'probe.json');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(PROBE).href, CLI, ...args], { cwd: dir, env: { ...process.env, SI_PROBE: probe }, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  const p = JSON.parse(readFileSync(probe, 'utf8')) as { peak_rss_kb: number; wchar: number };
  return { ms, peak_rss_mb: Math.round(p.peak_rss_kb / 1024), written: p.wchar };
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
}

export function benchState(sizes: readonly number[] = [10_000, 100_000, 1_000_000], opts: { keepLargest?: boolean } = {}): StateBench {
  const e0 = median([0, 1, 2, 3, 4].map(() => {
    const t = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    return performance.now() - t;
  }));
  const rows: StateBenchRow[] = [];
  let kept: string | null = null;
  for (const events of sizes) {
    const { dir, state, logBytes } = repoWithLog(events);
    const keep = Boolean(opts.keepLargest) && events === Math.max(...sizes);
    try {
      const out = execFileSync(process.execPath, ['--expose-gc', SELF, '--ingest', dir], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const first = JSON.parse(out) as { accepted: number; ingest_ms: number; written: number; bytes_per_waiting: number; snapshot_bytes: number; peak_rss_kb: number };
      if (first.accepted !== events) throw new Error(`ingested ${first.accepted} of ${events} events`);
      // Restarts: a new never-ready line, then `drain` (median of 3).
      const restarts = [0, 1, 2].map((k) => {
        appendFileSync(join(state, 'readiness.jsonl'), `${neverReadyLine(events + k, false)}\n`);
        return cli(dir, ['drain']);
      });
      const idle = [0, 1, 2].map(() => cli(dir, ['drain']));
      rows.push({
        events,
        slugs: events / 2,
        log_mb: logBytes / 1e6,
        ingest_ms: first.ingest_ms,
        events_per_s: Math.round(events / (first.ingest_ms / 1000)),
        ingest_peak_rss_mb: Math.round(first.peak_rss_kb / 1024),
        ingest_written_mb: first.written / 1e6,
        snapshot_mb: first.snapshot_bytes / 1e6,
        bytes_per_waiting: Math.round(first.bytes_per_waiting),
        restart_ms: median(restarts.map((r) => r.ms)),
        restart_peak_rss_mb: Math.max(...restarts.map((r) => r.peak_rss_mb)),
        restart_written_kb: median(restarts.map((r) => r.written)) / 1024,
        idle_ms: median(idle.map((r) => r.ms)),
        idle_peak_rss_mb: Math.max(...idle.map((r) => r.peak_rss_mb)),
      });
    } finally {
      if (keep) kept = dir;
      else rmSync(dir, { recursive: true, force: true });
    }
  }
  return { node_e0_ms: e0, rows, queue: benchQueueDrain(), kept_state: kept ? join(kept, '.git', 'shadow-integrator') : null };
}

export interface QueueDrain {
  items: number;
  /** Decisions per second in each block of 1,000, in drain order. */
  per_block: number[];
}

/** Child: 10k candidates ready at once, then drained with an instant engine; decisions/s per block of 1,000. */
async function childQueue(dir: string): Promise<void> {
  const loaded = loadConfig({ cwd: dir });
  const paths = statePaths(loaded.config.state_dir);
  const ctx = quietContext({ cwd: dir });
  const acq = await acquireLease(paths, selfOwner('bench'), ctx.now, 600);
  if (!acq.acquired) throw new Error('lease busy');
  const session = await HolderSession.open({ paths, config: loaded.config, ctx, held: acq.held });
  await session.ingest();
  const stamps: number[] = [];
  let n = 0;
  const engine: Engine = {
    evaluate: () => {
      if (n++ % 1000 === 0) stamps.push(performance.now());
      return Promise.resolve({ outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: null, merge_base: null, merged_tree: null });
    },
    close: () => Promise.resolve(),
  };
  await session.drain(engine, new AbortController().signal);
  stamps.push(performance.now());
  session.close();
  await releaseLease(paths, acq.held, ctx.now);
  process.stdout.write(JSON.stringify(stamps.slice(1).map((t, i) => Math.round(1000 / ((t - (stamps[i] as number)) / 1000)))));
}

export function benchQueueDrain(items = 10_000): QueueDrain {
  const dir = mkdtempSync(join(tmpdir(), 'si-bench-queue-'));
  try {
    execFileSync('git', ['init', '-q', dir]);
    writeFileSync(join(dir, '.shadow-integrator.yml'), 'mode: shadow\ngrace_seconds: 0\n');
    const state = join(dir, '.git', 'shadow-integrator');
    mkdirSync(state, { recursive: true });
    const lines: string[] = [];
    for (let i = 0; i < items; i++) {
      const slug = `q-${i}`;
      const at = new Date(base + i * 1000).toISOString();
      lines.push(
        JSON.stringify({ type: 'review_approved', slug, approved_at: at, review_round: 1, reviewer_session_id: 'r' }),
        JSON.stringify({ type: 'finalize_ready', slug, branch: `agent/${slug}`, sha: hex(i), worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: at }),
        JSON.stringify({ type: 'branch_pushed', branch: `agent/${slug}`, sha: hex(i), remote: 'origin', pushed_at: at, pusher: 'a' }),
      );
    }
    writeFileSync(join(state, 'readiness.jsonl'), `${lines.join('\n')}\n`);
    const out = execFileSync(process.execPath, [SELF, '--queue', dir], { encoding: 'utf8' });
    return { items, per_block: JSON.parse(out) as number[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, arg] = process.argv.slice(2);
if (mode === '--ingest') await childIngest(arg as string);
else if (mode === '--queue') await childQueue(arg as string);
else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = mode ? mode.split(',').map(Number) : undefined;
  console.log(JSON.stringify(benchState(sizes), null, 2));
}
