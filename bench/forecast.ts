/**
 * The collision forecast (`conflicts`) for 50 candidates — 1,225 pairs — on a real repository: cold
 * (no cache/forecast.json), warm (the same main: answers reused), and after main moved by one commit
 * (answers carried over where main's change touches neither candidate), beside the raw floor: the
 * median of one raw `git merge-tree --write-tree` process per merge, times the 1,225 pair merges.
 * The canonical repository is a bare one of the bench's own that borrows the source's objects
 * (alternates), so that main can be moved without touching the source.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { silentLogger, systemTimers } from '../src/context.js';
import type { ConflictsReport } from '../src/contract/types.generated.js';
import { forecast, type ForecastInput } from '../src/report/conflicts.js';
import { forecastCachePath } from '../src/report/forecast-cache.js';
import { median } from './evaluate.js';
import { realHistory } from './real-history.js';

const run = promisify(execFile);

export interface ForecastScenario {
  label: string;
  /** Where the source's objects are. */
  objects: string;
  /** Main before and after it moves by one commit. */
  main: string;
  movedTo: string;
  /** What main's move is, in words. */
  move: string;
  candidates: ForecastInput[];
}

export interface ForecastRow {
  repo: string;
  candidates: number;
  pairs: number;
  colliding: number;
  /** Candidates that conflict with main alone, left out of pairs. */
  conflicting_alone: number;
  cold_ms: number;
  warm_ms: number;
  moved_ms: number;
  move: string;
  moved_merges: ConflictsReport['merges'];
  /** Median of raw `git merge-tree --write-tree` processes, one per merge; and with the tool's commit-graph as an alternate. */
  raw_median_ms: number;
  raw_graph_median_ms: number;
  raw_samples: number;
  peak_rss_mb: number;
}

const git = (cwd: string, args: string[], input?: string) => execFileSync('git', args, { cwd, encoding: 'utf8', input, maxBuffer: 1 << 28, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } }).trim();

/** A bare repository borrowing `objects`, its refs/remotes/origin/main at `main` and a branch per candidate. */
function canonical(dir: string, objects: string, main: string, candidates: readonly ForecastInput[]): string {
  const repo = join(resolve(dir), 'canonical.git');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  git(dir, ['init', '-q', '--bare', repo]);
  writeFileSync(join(repo, 'objects', 'info', 'alternates'), `${objects}\n`);
  git(repo, ['update-ref', '--stdin'], `${[`update refs/remotes/origin/main ${main}`, ...candidates.map((c) => `update refs/remotes/origin/${c.branch} ${c.sha}`)].join('\n')}\n`);
  return repo;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

/**
 * The forecast for the first `count` candidates of `s` that merge cleanly onto main alone (so that
 * every one of the count·(count−1)/2 pairs is merged), cold, warm and after main moved.
 */
export async function benchForecast(s: ForecastScenario, dir: string, rawSamples: number, count: number): Promise<ForecastRow> {
  const repo = canonical(dir, s.objects, s.main, s.candidates);
  const stateDir = join(resolve(dir), 'state');
  const loaded = loadConfig({ cwd: repo, stateDir });
  const ctx = { env: process.env, timers: systemTimers, now: () => new Date(), logger: silentLogger };
  // Untimed: which merge cleanly onto main alone; the tool's commit-graph (written once per
  // repository, as the engine does) and the page cache.
  const clean = new Set((await forecast(loaded, ctx, s.candidates)).candidates.filter((c) => c.onto_main === 'clean').map((c) => c.sha));
  const candidates = s.candidates.filter((c) => clean.has(c.sha)).slice(0, count);
  const once = () => forecast(loaded, ctx, candidates);
  rmSync(forecastCachePath(stateDir), { force: true });
  const cold = await timed(once);
  const warm = await timed(once);
  git(repo, ['update-ref', 'refs/remotes/origin/main', s.movedTo]);
  const moved = await timed(once);

  // The floor: one raw merge-tree process per merge, on the main the cold forecast saw.
  const objects = mkdtempSync(join(tmpdir(), 'si-bench-forecast-objects-'));
  const env = (alternates: string) => ({ ...process.env, GIT_OBJECT_DIRECTORY: objects, GIT_ALTERNATE_OBJECT_DIRECTORIES: alternates, GIT_OPTIONAL_LOCKS: '0' });
  const graph = join(stateDir, 'cache', 'commit-graph');
  const raw = async (sha: string, withEnv: NodeJS.ProcessEnv) =>
    (
      await timed(() =>
        run('git', ['merge-tree', '--write-tree', s.main, sha], { cwd: repo, env: withEnv, maxBuffer: 1 << 26 }).catch((e: { code?: number }) => {
          if (e.code !== 1) throw e; // exit 1: conflicts
        }),
      )
    ).ms;
  const picks = candidates.slice(0, rawSamples);
  const plain: number[] = [];
  const withGraph: number[] = [];
  for (const c of picks) {
    plain.push(await raw(c.sha, env(join(repo, 'objects'))));
    if (existsSync(graph)) withGraph.push(await raw(c.sha, env(`${join(repo, 'objects')}:${graph}`)));
  }
  rmSync(objects, { recursive: true, force: true });
  const report = cold.value;
  const row: ForecastRow = {
    repo: s.label,
    candidates: report.candidates.length,
    pairs: report.merges.pairs,
    colliding: report.pairs.length,
    conflicting_alone: report.candidates.filter((c) => c.onto_main !== 'clean').length,
    cold_ms: cold.ms,
    warm_ms: warm.ms,
    moved_ms: moved.ms,
    move: s.move,
    moved_merges: moved.value.merges,
    raw_median_ms: median(plain),
    raw_graph_median_ms: withGraph.length > 0 ? median(withGraph) : NaN,
    raw_samples: picks.length,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
  rmSync(dir, { recursive: true, force: true });
  return row;
}

/** 50 candidates of the generated repository that merge cleanly onto main; main moves from its parent to its tip. */
export function largeForecastScenario(repo: { clone: string; mainSha: string; candidates: { slug: string; branch: string; sha: string; expect: string }[] }, count: number): ForecastScenario {
  const parent = git(repo.clone, ['rev-parse', `${repo.mainSha}^`]);
  return {
    label: 'generated: 20,000 files, 3,000 commits',
    objects: join(repo.clone, '.git', 'objects'),
    main: parent,
    movedTo: repo.mainSha,
    move: "main's last commit (files none of them touch)",
    candidates: repo.candidates
      .filter((c) => c.expect === 'clean')
      .slice(0, count)
      .map((c) => ({ slug: c.slug, branch: c.branch, sha: c.sha, state: 'queued' as const })),
  };
}

/** A real history's topics (bench/real-history.ts) on main at `base`; main then takes the first of them (its merge on the source's main). */
export function realForecastScenario(real: { label: string; repo: string; mainSha: string; candidates: { slug: string; branch: string; sha: string }[] }, source: string, until: string): ForecastScenario {
  const first = real.candidates[0];
  const moved = git(source, ['log', '--first-parent', '--reverse', '--format=%H', `${real.mainSha}..${until}`]).split('\n')[0] ?? real.mainSha;
  const objects = existsSync(join(source, 'objects')) ? join(source, 'objects') : join(source, '.git', 'objects');
  return {
    label: real.label,
    objects: resolve(objects),
    main: real.mainSha,
    movedTo: moved,
    move: `main's next first-parent commit (the merge of ${first?.slug ?? 'the first topic'})`,
    candidates: real.candidates.map((c) => ({ ...c, state: 'queued' as const })),
  };
}

/** The forecast benchmarks: the generated repository, and the real history when SHADOW_INTEGRATOR_BENCH_REPO names one. */
export async function benchForecasts(repo: Parameters<typeof largeForecastScenario>[0], opts: { count: number; rawSamples: number; source?: string | undefined; base: string; until: string }): Promise<ForecastRow[]> {
  const rows = [await benchForecast(largeForecastScenario(repo, opts.count), join('.bench-cache', 'forecast-large'), opts.rawSamples, opts.count)];
  if (opts.source) {
    // More topics than needed: some conflict with main alone and take no part in pairs.
    const real = realHistory({ source: opts.source, base: opts.base, until: opts.until, limit: Math.ceil(opts.count * 1.3), dir: join('.bench-cache', 'forecast-real-history') });
    rows.push(await benchForecast(realForecastScenario(real, resolve(opts.source), opts.until), join('.bench-cache', 'forecast-real'), opts.rawSamples, opts.count));
  }
  return rows;
}

/** One line of `npm run bench`'s output for a row. */
export function forecastLine(r: ForecastRow): string {
  const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const floor = r.raw_median_ms * r.pairs;
  return (
    `conflicts, ${r.repo}: ${r.candidates} candidates, ${r.pairs} pair merges (${r.colliding} colliding, ${r.conflicting_alone} conflicting with main alone): ` +
    `cold ${f(r.cold_ms)}, warm (same main) ${f(r.warm_ms)}, main moved (${r.move}) ${f(r.moved_ms)} merging ${r.moved_merges.alone} onto main + ${r.moved_merges.pairs} pairs (${r.moved_merges.pairs_carried} carried over); ` +
    `raw floor: merge-tree median ${r.raw_median_ms.toFixed(1)} ms (with the tool's commit-graph ${r.raw_graph_median_ms.toFixed(1)} ms) × ${r.pairs} = ${f(floor)}; peak RSS ${r.peak_rss_mb.toFixed(0)} MB`
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { largeRepo } = await import('./evaluate.js');
  const rows = await benchForecasts(largeRepo(), { count: Number(process.argv[2] ?? 50), rawSamples: 25, source: process.env.SHADOW_INTEGRATOR_BENCH_REPO, base: process.env.BENCH_REAL_BASE ?? 'v2.45.0', until: process.env.BENCH_REAL_UNTIL ?? 'v2.46.0' });
  for (const r of rows) process.stdout.write(`${forecastLine(r)}\n`);
}
