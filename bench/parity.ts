/**
 * `parity` after main moved by one commit: with the cache the previous run left (warm) and without
 * any cache (cold), side by side for the same main in one run, and the ratio. The two reports are
 * compared (untimed): a warm run that answered differently would be a bug, not a number.
 *
 * Two histories: the generated large repository (fixtures/large.ts), where a "live" integrator lands
 * the shadow's candidates one commit at a time — merges, a conflict resolved by hand, squashes,
 * reverts; and, when SHADOW_INTEGRATOR_BENCH_REPO names a local clone (e.g. of github.com/git/git),
 * that project's real main between two tags, with its real topic merges, against shadow decisions
 * made at the first tag. Each bench repository is a bare one of its own that borrows the source's
 * objects (alternates), so moving its main or writing commits touches nothing else.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fixtureEnv } from '../fixtures/git.js';
import type { LargeRepo } from '../fixtures/large.js';
import { loadConfig } from '../src/config/config.js';
import { quietContext } from '../src/context.js';
import type { Outcome } from '../src/contract/types.generated.js';
import { createEngine, type Candidate } from '../src/engine/evaluate.js';
import { parityCachePath } from '../src/report/parity-cache.js';
import { parity, type ParityReport } from '../src/report/parity.js';
import { appendRecords } from '../src/store/jsonl.js';
import { statePaths } from '../src/store/paths.js';
import { benchEngineOptions, median } from './evaluate.js';
import { realHistory } from './real-history.js';

export interface ParityRow {
  repo: string;
  /** Commits reachable from main at the last sample. */
  commits: number;
  decisions: number;
  samples: number;
  cold_ms: number;
  warm_ms: number;
  /** Peak RSS of one `parity --json` process, cold and warm, at the last sample. */
  cold_rss_mb: number;
  warm_rss_mb: number;
  cache_kb: number;
}

/** A bench repository, decisions made at `tips[0]`, and main's successive tips after it. */
interface ParityScenario {
  label: string;
  repo: string;
  tips: string[];
  decisions: Outcome[];
}

const MAIN = 'refs/remotes/origin/main';
const run = (cwd: string, args: string[], input?: string) => execFileSync('git', args, { cwd, input, encoding: 'utf8', maxBuffer: 1 << 28, env: fixtureEnv() }).trim();
const setMain = (repo: string, sha: string) => run(repo, ['update-ref', MAIN, sha]);
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));

/** A bare repository in `dir` reading `objects` through alternates, with the given remote-tracking refs. */
function borrowingRepo(relative: string, objects: string, refs: Record<string, string>): string {
  const dir = resolve(relative);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run(dir, ['init', '-q', '--bare', '.']);
  writeFileSync(join(dir, 'objects', 'info', 'alternates'), `${resolve(objects)}\n`);
  run(dir, ['update-ref', '--stdin'], Object.entries(refs).map(([ref, sha]) => `update ${ref} ${sha}\n`).join(''));
  return dir;
}

/** What the shadow decided for `candidates` with main at `mainSha`: real evaluations by the engine. */
async function decide(repo: string, mainSha: string, candidates: readonly Candidate[]): Promise<Outcome[]> {
  setMain(repo, mainSha);
  const state = join(repo, 'bench-engine-state');
  const engine = createEngine(benchEngineOptions(repo, repo, state, 120));
  const outcomes: Outcome[] = [];
  try {
    for (const c of candidates) {
      const ev = await engine.evaluate(c);
      const now = new Date().toISOString();
      outcomes.push({ schema_version: 1, slug: c.slug, branch: c.branch, sha: c.sha, ...ev, outcome: ev.outcome, ready_at: now, enqueued_at: now, decided_at: now, lease_epoch: 1, duration_ms: 0 });
    }
  } finally {
    await engine.close();
    rmSync(state, { recursive: true, force: true });
  }
  return outcomes;
}

/**
 * The large repository: `count` of its candidates decided at its main, then landed one commit at a
 * time as a live integrator would — mostly merges (a conflicting one committed as resolved by hand),
 * every fifth squashed, every seventh landing reverted by the commit after it.
 */
export async function largeParityScenario(large: LargeRepo, dir: string, count: number): Promise<ParityScenario> {
  const picked = large.candidates.slice(0, count);
  const refs: Record<string, string> = { [MAIN]: large.mainSha };
  for (const c of picked) refs[`refs/remotes/origin/${c.branch}`] = c.sha;
  const repo = borrowingRepo(dir, join(large.clone, '.git', 'objects'), refs);
  const decisions = await decide(repo, large.mainSha, picked);
  const tips = [large.mainSha];
  let main = large.mainSha;
  picked.forEach((c, i) => {
    // merge-tree --write-tree exits 1 on a conflict and still writes the tree (with conflict markers): "resolved by hand".
    const merged = spawnSync('git', ['merge-tree', '--write-tree', main, c.sha], { cwd: repo, encoding: 'utf8', env: fixtureEnv() });
    const tree = merged.stdout.split('\n')[0] as string;
    const parents = i % 5 === 4 ? ['-p', main] : ['-p', main, '-p', c.sha];
    main = run(repo, ['commit-tree', tree, ...parents, '-m', `land ${c.slug}`]);
    tips.push(main);
    if (i % 7 === 6) {
      main = run(repo, ['commit-tree', `${main}^^{tree}`, '-p', main, '-m', `Revert "land ${c.slug}"\n\nThis reverts commit ${main}.`]);
      tips.push(main);
    }
  });
  return { label: `generated: 20,000 files, ${count} decisions landed one commit at a time`, repo, tips, decisions };
}

/** A real project's main from `base` to `until` (its first-parent chain), decisions on its topics made at `base`. */
export async function realParityScenario(source: string, base: string, until: string, dir: string, limit: number): Promise<ParityScenario> {
  const real = realHistory({ source, base, until, limit, dir });
  const decisions = await decide(real.repo, real.mainSha, real.candidates);
  const end = run(resolve(source), ['rev-parse', `${until}^{commit}`]);
  const tips = [real.mainSha, ...run(real.repo, ['rev-list', '--first-parent', '--reverse', `${real.mainSha}..${end}`]).split('\n')];
  return { label: `real: ${real.label}`, repo: real.repo, tips, decisions };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** One `parity --json` process; its peak RSS in MB. */
function peakRss(repo: string, stateDir: string): number {
  const preload = `data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss='+process.resourceUsage().maxRSS+'\\n'))`;
  const r = spawnSync(process.execPath, ['--import', preload, BIN, '--state-dir', stateDir, 'parity', '--json'], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 28 });
  const kb = /maxrss=(\d+)/.exec(r.stderr)?.[1];
  if (r.status !== 0 || kb === undefined) throw new Error(`parity --json exited ${r.status}: ${r.stderr}`);
  return Number(kb) / 1024;
}

/**
 * For each of the last `samples` tips: main moves there from the tip before it; parity with the
 * cache that run left (warm), then with none (cold), interleaved so that noise falls on both alike.
 */
export async function benchParity(s: ParityScenario, samples: number): Promise<ParityRow> {
  const states = { warm: join(s.repo, 'bench-state-warm'), cold: join(s.repo, 'bench-state-cold') };
  for (const dir of Object.values(states)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    appendRecords(statePaths(dir).outcomes, s.decisions);
  }
  writeFileSync(join(s.repo, 'bench-parity.yml'), 'mode: shadow\n');
  const ctx = quietContext({ cwd: s.repo, env: process.env });
  const loaded = (stateDir: string) => loadConfig({ cwd: s.repo, configPath: join(s.repo, 'bench-parity.yml'), stateDir });
  const first = Math.max(0, s.tips.length - 1 - samples);
  setMain(s.repo, s.tips[first] as string);
  await parity(loaded(states.warm), ctx);
  const times = { warm: [] as number[], cold: [] as number[] };
  for (const tip of s.tips.slice(first + 1)) {
    setMain(s.repo, tip);
    let warm: ParityReport | undefined;
    let cold: ParityReport | undefined;
    times.warm.push(await time(async () => (warm = await parity(loaded(states.warm), ctx))));
    rmSync(join(states.cold, 'cache'), { recursive: true, force: true });
    times.cold.push(await time(async () => (cold = await parity(loaded(states.cold), ctx))));
    if (!isDeepStrictEqual(warm, cold)) throw new Error(`${s.label}: the report with the cache differs from the cold one at ${tip}`);
  }
  // Memory, once each, as a user runs it: warm with main moved by one commit, cold with no cache.
  setMain(s.repo, s.tips.at(-2) as string);
  await parity(loaded(states.warm), ctx);
  setMain(s.repo, s.tips.at(-1) as string);
  const warmRss = peakRss(s.repo, states.warm);
  rmSync(join(states.cold, 'cache'), { recursive: true, force: true });
  const coldRss = peakRss(s.repo, states.cold);
  return {
    repo: s.label,
    commits: Number(run(s.repo, ['rev-list', '--count', MAIN])),
    decisions: s.decisions.length,
    samples: times.warm.length,
    cold_ms: median(times.cold),
    warm_ms: median(times.warm),
    cold_rss_mb: coldRss,
    warm_rss_mb: warmRss,
    cache_kb: statSync(parityCachePath(states.warm)).size / 1024,
  };
}
