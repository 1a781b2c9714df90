/**
 * `npm run bench`: every benchmark in one run, printed as it is measured, then as the markdown table
 * BENCHMARKS.md keeps (with the machine and the date). Nothing here is a test: numbers only.
 * `--quick` runs smaller sizes (a smoke run, not numbers to record).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDrain, benchEvaluation, largeRepo } from './evaluate.js';
import { benchIngest } from './ingest.js';
import { machine } from './machine.js';
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

const evaluation = await benchEvaluation(repo, quick ? 5 : 25);
for (const r of evaluation) log(`evaluation ${r.kind}: raw merge-tree ${fmt(r.raw_merge_tree_ms)} ms, tool ${fmt(r.tool_ms)} ms (${fmt(r.tool_ms / r.raw_merge_tree_ms, 2)}×), fresh worktree ${fmt(r.fresh_worktree_ms)} ms (${fmt(r.fresh_worktree_ms / r.tool_ms, 0)}× slower than the tool)`);

const drained = await benchDrain(repo);
log(`drain of ${drained.candidates} candidates: ${fmt(drained.seconds)} s, ${fmt(drained.candidates_per_s)} candidates/s (${drained.would_integrate} would_integrate, ${drained.would_block} would_block)`);

const ingest = benchIngest(quick ? 100_000 : 1_000_000);
log(`ingestion of ${ingest.events} events (${ingest.candidates} candidates): ${ingest.events_per_s} events/s, peak RSS ${ingest.peak_rss_mb} MB; restart ${ingest.restart_ms} ms (queue of ${ingest.queued}), ${ingest.restart_drained_ms} ms drained`);

const watch = await benchWatch(repo, quick ? 10 : 40);
log(`watch latency over ${watch.samples} events: p50 ${fmt(watch.p50_ms)} ms, p95 ${fmt(watch.p95_ms)} ms, max ${fmt(watch.max_ms)} ms`);

const rows: [string, string, string][] = [
  [`bare \`node -e 0\` (median of ${startup.samples})`, `${fmt(nodeMs)} ms`, 'the floor'],
  ...Object.entries(startup.median_ms)
    .filter(([name]) => name !== 'node -e 0')
    .map(([name, ms]): [string, string, string] => [`start-up: \`${name}\``, `${fmt(ms)} ms (${fmt(ms / nodeMs, 2)}× node)`, '≤ 3× node -e 0']),
  ...evaluation.flatMap((r): [string, string, string][] => [
    [`evaluation, ${r.kind} (median of ${r.samples}): raw \`git merge-tree --write-tree\``, `${fmt(r.raw_merge_tree_ms)} ms`, 'the floor'],
    [`evaluation, ${r.kind}: shadow-integrator (re-check + merge + durable ledger append)`, `${fmt(r.tool_ms)} ms (${fmt(r.tool_ms / r.raw_merge_tree_ms, 2)}× the floor)`, '≤ 1.5× the floor'],
    [`evaluation, ${r.kind}: fresh \`git worktree add\` + \`git merge --no-commit\``, `${fmt(r.fresh_worktree_ms)} ms (${fmt(r.fresh_worktree_ms / r.tool_ms, 0)}× the tool)`, 'tool ≥ 50× faster'],
  ]),
  [`queue of ${drained.candidates} candidates drained end to end`, `${fmt(drained.candidates_per_s)} candidates/s (${fmt(drained.seconds)} s)`, ''],
  [`ingestion of ${ingest.events.toLocaleString('en')} events (${ingest.candidates.toLocaleString('en')} candidates)`, `${ingest.events_per_s.toLocaleString('en')} events/s`, '≥ 200,000 events/s'],
  ['peak RSS while ingesting them', `${ingest.peak_rss_mb} MB`, '< 300 MB'],
  [`restart on that log with its checkpoint, ${ingest.queued.toLocaleString('en')} candidates still queued`, `${ingest.restart_ms} ms`, '< 1 s'],
  ['restart on that log with its checkpoint, queue drained (steady state)', `${ingest.restart_drained_ms} ms`, '< 1 s'],
  [`\`watch\` latency, appended event → outcome (${watch.samples} events)`, `p50 ${fmt(watch.p50_ms)} ms, p95 ${fmt(watch.p95_ms)} ms`, 'p50 < 250 ms'],
];
const table = ['| measurement | result | target |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
log(`\n${table}`);
mkdirSync('.bench-cache', { recursive: true });
writeFileSync(join('.bench-cache', 'latest.json'), JSON.stringify({ machine: env, startup, evaluation, drained, ingest, watch, quick }, null, 2));
