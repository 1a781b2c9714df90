/**
 * `npm run bench`: every benchmark in one run, printed as it is measured, then as the markdown table
 * BENCHMARKS.md keeps (with the machine and the date). Nothing here is a test: numbers only.
 * `--quick` runs smaller sizes (a smoke run, not numbers to record).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDrain, benchEvaluation, benchQueueOrder, largeRepo, largeSet, type EvaluationRow, type MergeSet, type QueueOrderRow } from './evaluate.js';
import { benchForecasts, forecastLine } from './forecast.js';
import { benchState } from './ingest.js';
import { machine } from './machine.js';
import { benchParity, largeParityScenario, realParityScenario, type ParityRow } from './parity.js';
import { realHistory } from './real-history.js';
import { benchStartup } from './startup.js';
import { benchWatch } from './watch.js';

const quick = process.argv.includes('--quick');
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const log = (line: string) => process.stdout.write(`${line}\n`);

const env = machine();
log(`machine: ${env.cpu}, ${env.memory}, ${env.platform}, node ${env.node}, ${env.git}; ${env.date}`);

const startup = benchStartup(quick ? 5 : 21);
const nodeMs = startup.median_ms['node -e 0'] ?? NaN;
for (const [name, ms] of Object.entries(startup.median_ms)) log(`start-up, ${name}: ${fmt(ms)} ms (${fmt(ms / nodeMs, 2)}× node -e 0)`);

const t = Date.now();
const repo = largeRepo();
log(`large repository ready (${((Date.now() - t) / 1000).toFixed(1)} s, cached in .bench-cache/): ${repo.candidates.length} candidates, main ${repo.mainSha.slice(0, 12)}`);

// A real history when a local clone is given (e.g. of github.com/git/git): SHADOW_INTEGRATOR_BENCH_REPO.
const sets: MergeSet[] = [largeSet(repo, quick ? 5 : 25)];
const source = process.env.SHADOW_INTEGRATOR_BENCH_REPO;
if (source) {
  const real = realHistory({ source, base: process.env.BENCH_REAL_BASE ?? 'v2.45.0', until: process.env.BENCH_REAL_UNTIL ?? 'v2.46.0', limit: quick ? 8 : 30, dir: join('.bench-cache', 'real-history') });
  log(`real history: ${real.label}; ${real.candidates.length} candidates`);
  sets.push({ label: `real: ${source} at ${process.env.BENCH_REAL_BASE ?? 'v2.45.0'}`, repoDir: real.repo, commonDir: real.repo, candidates: real.candidates.map((c) => ({ ...c, kind: 'topic merges' })), worktrees: 0 });
} else log('real history: skipped (set SHADOW_INTEGRATOR_BENCH_REPO to a local clone, e.g. of github.com/git/git)');

const ratio = (ms: number, r: EvaluationRow) => `${fmt(ms)} ms (${fmt(ms / r.raw_ms, 2)}×)`;
const evaluation: EvaluationRow[] = [];
for (const set of sets) {
  for (const r of await benchEvaluation(set)) {
    evaluation.push(r);
    log(
      `evaluation, ${r.repo}, ${r.kind} (median of ${r.samples}): raw merge-tree ${fmt(r.raw_ms)} ms, with the tool's commit-graph ${ratio(r.raw_graph_ms, r)}; merge-tree --stdin ${ratio(r.stdin_ms, r)}, batched ${ratio(r.batch_ms, r)}; ` +
        `tool cold ${ratio(r.cold_ms, r)}, warm ${ratio(r.warm_ms, r)}${r.fresh_worktree_ms === null ? '' : `; fresh worktree ${fmt(r.fresh_worktree_ms)} ms`}`,
    );
  }
}

// base: queue beside base: tip, the same queue through a warm engine, and the stack's cost when main moves.
const queueOrder: QueueOrderRow[] = [];
for (const set of sets) {
  const r = await benchQueueOrder(set, quick ? 1 : 3);
  queueOrder.push(r);
  const x = (ms: number) => `${fmt(ms)} ms (${fmt(ms / r.raw_ms, 2)}×)`;
  log(
    `queue order, ${r.repo}, ${r.candidates} candidates (median of ${r.rounds} rounds, per candidate): raw merge-tree ${fmt(r.raw_ms)} ms; base: tip one at a time ${x(r.tip_ms)}, batched ${x(r.tip_batched_ms)}; ` +
      `base: queue ${x(r.queue_ms)} (${r.would_integrate} would_integrate, ${r.would_block} would_block of which ${r.stack_blocks} from the stack, stack of ${r.stack}); ` +
      `an engine per candidate: base: tip ${x(r.cold_tip_ms)}, base: queue ${x(r.cold_queue_ms)} taking the kept stack, ${x(r.cold_queue_uncached_ms)} without; ` +
      `after main moved by one commit: queue ${fmt(r.moved_queue_ms)} ms (the stack of ${r.stack} merged again; ${r.moved_queue_outcome}), tip ${fmt(r.moved_tip_ms)} ms`,
  );
}

// parity after main moved by one commit, warm (the cache of the run before) beside cold (no cache).
const parityRows: ParityRow[] = [];
const paritySamples = quick ? 2 : 7;
const parityScenarios = [() => largeParityScenario(repo, join('.bench-cache', 'parity-large'), quick ? 20 : 150)];
if (source) {
  const [base, until] = [process.env.BENCH_REAL_BASE ?? 'v2.45.0', process.env.BENCH_REAL_UNTIL ?? 'v2.46.0'];
  parityScenarios.push(() => realParityScenario(source, base, until, join('.bench-cache', 'parity-real-history'), quick ? 8 : 60));
}
for (const scenario of parityScenarios) {
  const r = await benchParity(await scenario(), paritySamples);
  parityRows.push(r);
  log(
    `parity after main moved by one commit, ${r.repo} (${r.commits} commits, ${r.decisions} decisions; median of ${r.samples}): ` +
      `cold ${fmt(r.cold_ms)} ms, warm ${fmt(r.warm_ms)} ms = ${fmt((100 * r.warm_ms) / r.cold_ms)}% of cold; peak RSS cold ${fmt(r.cold_rss_mb, 0)} MB, warm ${fmt(r.warm_rss_mb, 0)} MB; cache ${fmt(r.cache_kb, 0)} KB`,
  );
}

// The collision forecast: 50 candidates (1,225 pairs) cold, warm and after main moved, beside the raw merge-tree floor.
const forecasts = await benchForecasts(repo, { count: quick ? 10 : 50, rawSamples: quick ? 5 : 25, source, base: process.env.BENCH_REAL_BASE ?? 'v2.45.0', until: process.env.BENCH_REAL_UNTIL ?? 'v2.46.0' });
for (const r of forecasts) log(forecastLine(r));

const drained = await benchDrain(repo);
log(`drain of ${drained.candidates} candidates: ${fmt(drained.seconds)} s, ${fmt(drained.candidates_per_s)} candidates/s (${drained.would_integrate} would_integrate, ${drained.would_block} would_block)`);

const state = benchState(quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000], { keepLargest: true });
log(`node -e 0: ${fmt(state.node_e0_ms)} ms`);
for (const r of state.rows) {
  log(`${r.events} never-ready events (${r.slugs} slugs): ingest ${r.events_per_s} events/s, peak RSS ${r.ingest_peak_rss_mb} MB, ${r.bytes_per_waiting} B a waiting candidate; restart ${fmt(r.restart_ms)} ms writing ${fmt(r.restart_written_kb)} KiB; idle drain ${fmt(r.idle_ms)} ms`);
}
log(`drain of a ${state.queue.items}-item queue, decisions/s per 1,000: ${state.queue.per_block.join(', ')}`);

const watch = await benchWatch(repo, quick ? 10 : 40);
log(`watch latency over ${watch.samples} events on a fresh state: p50 ${fmt(watch.p50_ms)} ms, p95 ${fmt(watch.p95_ms)} ms`);
const largest = state.rows.at(-1);
const watchLarge = state.kept_state ? await benchWatch(repo, quick ? 10 : 40, state.kept_state) : null;
if (state.kept_state) rmSync(join(state.kept_state, '..', '..'), { recursive: true, force: true });
if (watchLarge) log(`watch latency on the state of ${largest?.events} events: p50 ${fmt(watchLarge.p50_ms)} ms, p95 ${fmt(watchLarge.p95_ms)} ms`);

const rows: [string, string, string][] = [
  [`bare \`node -e 0\` (median of ${startup.samples})`, `${fmt(nodeMs)} ms`, 'the floor'],
  ...Object.entries(startup.median_ms)
    .filter(([name]) => name !== 'node -e 0')
    .map(([name, ms]): [string, string, string] => [`start-up: \`${name}\``, `${fmt(ms)} ms (${fmt(ms / nodeMs, 2)}× node)`, '≤ 3× node -e 0']),
  ...evaluation.flatMap((r): [string, string, string][] => [
    [`evaluation, ${r.repo}, ${r.kind} (median of ${r.samples}): raw \`git merge-tree --write-tree\``, `${fmt(r.raw_ms)} ms`, 'the floor'],
    [`… raw \`git merge-tree --write-tree\` with the tool's commit-graph as an alternate`, ratio(r.raw_graph_ms, r), ''],
    [`… \`git merge-tree --stdin\`, a process per merge / one process for all`, `${ratio(r.stdin_ms, r)} / ${ratio(r.batch_ms, r)}`, ''],
    [`… shadow-integrator cold: new engine per candidate (re-check + merge + durable ledger append)`, ratio(r.cold_ms, r), '≤ 1.5× the floor'],
    [`… shadow-integrator warm: one engine for the tenure (re-check + merge + durable ledger append)`, ratio(r.warm_ms, r), '≤ 1.5×, stretch ≤ 1.0×'],
    ...(r.fresh_worktree_ms === null ? [] : [[`… fresh \`git worktree add\` + \`git merge --no-commit\``, `${fmt(r.fresh_worktree_ms)} ms (${fmt(r.fresh_worktree_ms / r.warm_ms, 0)}× the tool warm)`, 'tool ≥ 50× faster'] as [string, string, string]]),
  ]),
  ...parityRows.flatMap((r): [string, string, string][] => [
    [`parity, ${r.repo} (${r.commits.toLocaleString('en')} commits, ${r.decisions} decisions), median of ${r.samples}: cold (no cache) / warm (main moved by one commit)`, `${fmt(r.cold_ms)} ms / ${fmt(r.warm_ms)} ms = **${fmt((100 * r.warm_ms) / r.cold_ms)}%** of cold`, 'warm ≤ 10% of cold'],
    ['… peak RSS of one `parity --json` process, cold / warm; cache file', `${fmt(r.cold_rss_mb, 0)} MB / ${fmt(r.warm_rss_mb, 0)} MB; ${fmt(r.cache_kb, 0)} KB`, ''],
  ]),
  ...forecasts.flatMap((r): [string, string, string][] => [
    [`\`conflicts\`, ${r.repo}: ${r.candidates} candidates, ${r.pairs.toLocaleString('en')} pair merges, cold (no cache)`, `${fmt(r.cold_ms / 1000, 2)} s (${fmt(r.cold_ms / (r.raw_median_ms * r.pairs), 2)}× the floor)`, ''],
    [`… the raw floor: one \`git merge-tree --write-tree\` process per pair, median of ${r.raw_samples} × ${r.pairs.toLocaleString('en')} (with the tool's commit-graph as an alternate)`, `${fmt((r.raw_median_ms * r.pairs) / 1000, 2)} s (${fmt((r.raw_graph_median_ms * r.pairs) / 1000, 2)} s)`, 'the floor'],
    [`… warm: the same main, every answer from cache/forecast.json`, `${fmt(r.warm_ms, 0)} ms`, ''],
    [`… after main moved: ${r.move}`, `${fmt(r.moved_ms / 1000, 2)} s: ${r.moved_merges.alone} merges onto main + ${r.moved_merges.pairs} pairs, ${r.moved_merges.pairs_carried} carried over`, 'only what changed'],
  ]),
  ...queueOrder.flatMap((r): [string, string, string][] => {
    const x = (ms: number) => `${fmt(ms)} ms (${fmt(ms / r.raw_ms, 2)}×)`;
    return [
      [`queue order, ${r.repo}: ${r.candidates} candidates through a warm engine, per candidate (median of ${r.rounds} rounds): raw \`git merge-tree --write-tree\` onto main`, `${fmt(r.raw_ms)} ms`, 'the floor'],
      ['… `base: tip`, one at a time / the next candidates merged in the same batch', `${x(r.tip_ms)} / ${x(r.tip_batched_ms)}`, '≤ 1.5×'],
      [`… \`base: queue\` (${r.would_integrate} would_integrate, ${r.would_block} would_block, ${r.stack_blocks} of them from the stack; stack of ${r.stack} at the end)`, x(r.queue_ms), '≤ 1.5×'],
      ['… a new engine per candidate (a `drain` each): `base: tip` / `base: queue` taking the stack the engine before kept / `base: queue` with cache/stack/ removed before each', `${x(r.cold_tip_ms)} / ${x(r.cold_queue_ms)} / ${x(r.cold_queue_uncached_ms)}`, ''],
      [`… the next candidate after main moved by one commit: \`base: queue\` (the stack of ${r.stack} merged again; ${r.moved_queue_outcome}) / \`base: tip\``, `${fmt(r.moved_queue_ms)} ms / ${fmt(r.moved_tip_ms)} ms`, ''],
    ];
  }),
  [`queue of ${drained.candidates} candidates drained end to end`, `${fmt(drained.candidates_per_s)} candidates/s (${fmt(drained.seconds)} s)`, ''],
  ...state.rows.flatMap((r): [string, string, string][] => {
    const at = `${r.events.toLocaleString('en')} events / ${r.slugs.toLocaleString('en')} never-ready slugs`;
    return [
      [`ingestion, ${at}`, `${r.events_per_s.toLocaleString('en')} events/s`, '≥ 200,000 events/s'],
      [`peak RSS while ingesting, ${at}`, `${r.ingest_peak_rss_mb} MB (${r.bytes_per_waiting} B per waiting candidate)`, '< 300 MB'],
      [`restart (\`drain\` after one new line), ${at}`, `${fmt(r.restart_ms, 0)} ms, peak RSS ${r.restart_peak_rss_mb} MB`, '< 1 s'],
      [`bytes written by that one-line round, ${at}`, `${fmt(r.restart_written_kb)} KiB`, '< 1 MB'],
      [`idle \`drain\` (nothing new), ${at}`, `${fmt(r.idle_ms, 0)} ms (\`node -e 0\`: ${fmt(state.node_e0_ms, 0)} ms)`, '< 0.2 s'],
    ];
  }),
  [`drain of a ${state.queue.items.toLocaleString('en')}-item queue, decisions/s first → last 1,000`, `${state.queue.per_block[0]} → ${state.queue.per_block.at(-1)}`, 'not falling'],
  [`\`watch\` latency, appended event → outcome (${watch.samples} events), fresh state`, `p50 ${fmt(watch.p50_ms)} ms, p95 ${fmt(watch.p95_ms)} ms`, 'p50 < 250 ms'],
  ...(watchLarge && largest ? [[`\`watch\` latency on the state of ${largest.events.toLocaleString('en')} events / ${largest.slugs.toLocaleString('en')} slugs`, `p50 ${fmt(watchLarge.p50_ms)} ms, p95 ${fmt(watchLarge.p95_ms)} ms`, 'p50 < 250 ms'] as [string, string, string]] : []),
];
const table = ['| measurement | result | target |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
log(`\n${table}`);
mkdirSync('.bench-cache', { recursive: true });
writeFileSync(join('.bench-cache', 'latest.json'), JSON.stringify({ machine: env, startup, evaluation, queueOrder, parity: parityRows, forecasts, drained, state, watch, watchLarge, quick }, null, 2));
