/**
 * A canonical repository made from a real project's history, for benchmarks: a bare repository that
 * borrows a local clone's objects (objects/info/alternates, nothing copied), with main at a tagged
 * commit and, as candidates, the topic branches that project merged into main after it — each one's
 * tip, the merge's second parent, when it is not in main yet. That is what an integrator would have
 * been asked to merge at that point, with the real conflicts and the real history walk.
 *
 * The clone is given by SHADOW_INTEGRATOR_BENCH_REPO (e.g. a mirror of github.com/git/git); without it
 * the benchmark says so and skips this repository. CI never depends on it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface RealHistory {
  /** What the benchmark says it used: the clone's path, main's tag and commit. */
  label: string;
  /** The bare canonical repository (its own common dir). */
  repo: string;
  mainSha: string;
  candidates: { slug: string; branch: string; sha: string }[];
}

const git = (cwd: string, args: string[], input?: string) => execFileSync('git', args, { cwd, encoding: 'utf8', input, maxBuffer: 1 << 28, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } }).trim();

/**
 * Main at `base` (a tag of the source), candidates from the merges on the source's first-parent
 * chain in `base..until`; at most `limit`. Cached in `dir` per source, base and until.
 */
export function realHistory(opts: { source: string; base: string; until: string; limit: number; dir: string }): RealHistory {
  const source = resolve(opts.source);
  const objects = existsSync(join(source, 'objects')) ? join(source, 'objects') : join(source, '.git', 'objects');
  const key = JSON.stringify({ source, base: opts.base, until: opts.until, limit: opts.limit });
  // Absolute: git runs in `dir` and is given the repository's path.
  const dir = resolve(opts.dir);
  const repo = join(dir, 'canonical.git');
  const marker = join(dir, 'real-history.json');
  if (existsSync(marker)) {
    const cached = JSON.parse(readFileSync(marker, 'utf8')) as RealHistory & { key: string };
    if (cached.key === key) return cached;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  git(dir, ['init', '-q', '--bare', repo]);
  writeFileSync(join(repo, 'objects', 'info', 'alternates'), `${objects}\n`);
  const mainSha = git(source, ['rev-parse', `${opts.base}^{commit}`]);
  const merges = git(source, ['log', '--first-parent', '--merges', '--reverse', '--format=%H %P', `${opts.base}..${opts.until}`]).split('\n').filter(Boolean);
  const candidates: RealHistory['candidates'] = [];
  for (const line of merges) {
    const [, , tip] = line.split(' ');
    if (!tip || candidates.some((c) => c.sha === tip)) continue;
    // A topic already in main at `base` would only be already_integrated: not a merge to measure.
    if (git(source, ['merge-base', mainSha, tip]) === tip) continue;
    const n = candidates.length + 1;
    candidates.push({ slug: `topic-${n}`, branch: `topic/${n}`, sha: tip });
    if (candidates.length >= opts.limit) break;
  }
  const updates = [`update refs/remotes/origin/main ${mainSha}`, ...candidates.map((c) => `update refs/remotes/origin/${c.branch} ${c.sha}`)].join('\n');
  git(repo, ['update-ref', '--stdin'], `${updates}\n`);
  const history: RealHistory & { key: string } = { key, label: `${source} at ${opts.base} (${mainSha.slice(0, 12)}), topics merged in ${opts.base}..${opts.until}`, repo, mainSha, candidates };
  writeFileSync(marker, JSON.stringify(history));
  return history;
}
