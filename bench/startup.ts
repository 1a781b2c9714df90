/**
 * Start-up of the commands every git hook and every agent's `emit` pays, beside a bare `node -e 0`
 * measured in the same run: each sample runs the commands one after the other, so that machine load
 * weighs on all of them alike. Medians of wall time, child process spawned from Node.
 * `node dist/bench/startup.js [samples]` runs it alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));

export interface StartupResult {
  samples: number;
  /** Median wall time in ms, by what ran. */
  median_ms: Record<string, number>;
}

export function benchStartup(samples: number): StartupResult {
  const repo = mkdtempSync(join(tmpdir(), 'si-bench-startup-'));
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
  spawnSync('git', ['init', '-q', '-b', 'main', repo], { env });
  const config = join(repo, '.shadow-integrator.yml');
  const sha = '7'.repeat(40);
  const runs: [string, () => number][] = [
    ['node -e 0', () => run(['-e', '0'])],
    ['status (no config file)', () => run([CLI, 'status'], { before: () => rmSync(config, { force: true }) })],
    ['status', () => run([CLI, 'status'], { before: () => writeFileSync(config, 'mode: shadow\n') })],
    ['status --json', () => run([CLI, 'status', '--json'])],
    ['emit', () => run([CLI, 'emit', 'review_approved', '--slug', 'bench', '--review-round', '1', '--reviewer-session-id', 'r'])],
    ['hooks receive', () => run([CLI, 'hooks', 'receive', '--pusher', 'bench'], { input: `${'0'.repeat(40)} ${sha} refs/heads/agent/bench\n` })],
  ];
  /** Wall time of one child process, `before` not included. */
  function run(args: string[], opts: { before?: () => void; input?: string } = {}): number {
    opts.before?.();
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: repo, env, input: opts.input ?? '', stdio: ['pipe', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
    return ms;
  }
  const times = new Map<string, number[]>(runs.map(([name]) => [name, []]));
  try {
    for (let i = 0; i < samples; i++) for (const [name, measure] of runs) times.get(name)?.push(measure());
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
  return { samples, median_ms: Object.fromEntries([...times].map(([name, t]) => [name, median(t)])) };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = benchStartup(Number(process.argv[2] ?? 21));
  const base = r.median_ms['node -e 0'] ?? NaN;
  for (const [name, ms] of Object.entries(r.median_ms)) process.stdout.write(`${name.padEnd(24)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / base).toFixed(2)}× node -e 0\n`);
}
