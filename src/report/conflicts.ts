/**
 * `conflicts`: a collision forecast. For every undecided candidate — the stack ahead, the queue,
 * candidates ready but not queued yet, and those still waiting for events — which pairs would collide
 * if both were merged onto main: each merges cleanly onto main alone, but merging one after the other
 * conflicts (git's merge of the second onto main's merge with the first). A candidate that conflicts
 * with main alone is shown as such (`onto_main: conflict`, with its paths) and takes no part in
 * pairs: it would be blocked whatever else lands.
 *
 * Cost, as the swarm grows (n candidates, n(n-1)/2 pairs):
 * - merges run in a few `git merge-tree --stdin` processes (one for the n merges onto main, then the
 *   pairs in chunks), never a process per merge; the merge of the first of a pair onto main is a
 *   commit object written in this process into a temporary object directory (never the repository);
 * - answers are kept in cache/forecast.json by the candidates' shas and main's tip: on the same main
 *   nothing is merged again; when main moved, an answer carries over by the rule in
 *   forecast-cache.ts, and only the rest is merged (one `git log` for every candidate's commits not
 *   in main, one `git diff-tree` for main's change).
 * Nothing here writes the repository, the state files or a ref: only the cache and temporary objects.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import type { LoadedConfig } from '../config/config.js';
import { readRef } from '../config/repo.js';
import type { Context, Logger } from '../context.js';
import { errors } from '../contract/errors.js';
import type { CandidateEntry, ConflictsReport, ForecastCandidate, ForecastState, OntoMain, QueueItem } from '../contract/types.generated.js';
import { reportMerges } from '../git/attributes.js';
import { resolveRevisions } from '../git/batch.js';
import { commitsNotIn, treeChanges } from '../git/changes.js';
import { CommitGraph } from '../git/graph.js';
import { remoteRef } from '../git/guard.js';
import { MergeTrees, type MergePair } from '../git/merge.js';
import { writeMergeCommit } from '../git/objects.js';
import type { MergeResult } from '../git/parse.js';
import { openGit, type GitHandle, type GitSettings } from '../git/runner.js';
import { readProjectionView } from '../readiness/view.js';
import { statePaths, type StatePaths } from '../store/paths.js';
import { readLeaseFile, readState } from '../store/readers.js';
import { carriesOver, dirsOfDeletions, ForecastCacheFile, mainMove, pairKey, type MainMove } from './forecast-cache.js';


/** A candidate as the forecast takes it: who it is and where it stands. */
export type ForecastInput = Pick<ForecastCandidate, 'slug' | 'branch' | 'sha' | 'state'>;

/** Pairs per merge-tree process: each process has the git timeout, and a chunk is a unit of work two cores can share. */
const PAIRS_PER_PROCESS = 256;

/**
 * The undecided candidates from the state files, without the lease: the stack ahead (in decision
 * order), the queue in order, then — from the holder's projection snapshot and the log after it —
 * the candidates that became ready but are not queued yet, and the waiting ones, oldest first. A
 * slug appears once: its newest candidate (a queued one superseded by a newer finalize_ready that the
 * holder has not read yet gives way to it).
 */
function undecidedCandidates(paths: StatePaths, remote: string): ForecastInput[] {
  const state = readState(paths);
  const view = readProjectionView(paths, remote, state.round, { decisions: true });
  const bySlug = new Map<string, ForecastInput>();
  for (const e of state.stack) bySlug.set(e.slug, { slug: e.slug, branch: e.branch, sha: e.sha, state: 'stacked' });
  const queued = (it: QueueItem) => bySlug.set(it.slug, { slug: it.slug, branch: it.branch, sha: it.sha, state: it.status });
  for (const it of state.items) queued(it);
  for (const [slug, r] of view.readyAfter) {
    const live = bySlug.get(slug);
    if (live && live.branch === r.candidate.branch && live.sha === r.candidate.sha) continue;
    if (view.projection.isDecided({ ...r.candidate, episode: r.episode })) continue;
    bySlug.delete(slug);
    bySlug.set(slug, { slug, branch: r.candidate.branch, sha: r.candidate.sha, state: 'ready' });
  }
  for (const { candidate: c } of view.projection.waitingCandidates().candidates) {
    bySlug.delete(c.slug);
    bySlug.set(c.slug, { slug: c.slug, branch: c.branch, sha: c.sha, state: 'waiting' });
  }
  const order: Record<ForecastState, number> = { stacked: 0, in_progress: 1, queued: 1, ready: 2, waiting: 3 };
  // Stable: the stack and the queue keep their order, ready and waiting candidates theirs.
  return [...bySlug.values()].sort((a, b) => order[a.state] - order[b.state]);
}

/**
 * The forecast as `watch` runs it: when the readiness log or main changed since the last forecast, and only
 * in the watch that holds the lease or held it last (one watch says it, not every one), never while a
 * check runs, one at a time, one merge-tree process at a time, and stopped at its own timeout — so
 * that it costs the holder nothing it needs. Each colliding pair not reported before (a new or
 * updated candidate, or main moved) is logged as a `collision_forecast` line.
 */
export class CollisionWatch {
  /** The readiness log and main as the last forecast saw them. */
  private lastSeen = '';
  private reported = new Set<string>();
  private running: { done: Promise<void>; stop: AbortController } | null = null;
  private closed = false;
  /** Whether the last forecast left candidates out (said once, not every round). */
  private capped = false;

  constructor(
    private readonly loaded: LoadedConfig,
    private readonly ctx: Pick<Context, 'env' | 'timers' | 'now' | 'logger'>,
  ) {}

  /**
   * Runs a forecast if one is due: `lastEpoch` is the lease epoch this watch held last (null: never),
   * `busy` whether a check runs now. Resolves when that forecast is done (at once when none is due).
   */
  poll(lastEpoch: number | null, busy: boolean): Promise<void> {
    if (this.running) return this.running.done;
    if (this.closed || busy || lastEpoch === null) return Promise.resolve();
    const paths = statePaths(this.loaded.config.state_dir);
    const { remote, main_branch } = this.loaded.config;
    // Main read from its ref file, without git: a poll that finds nothing changed costs two stats and a read.
    const seen = `${logIdentity(paths.readiness)} ${readRef(this.loaded.repo, remoteRef(remote, main_branch)).sha ?? ''}`;
    if (seen === this.lastSeen || readLeaseFile(paths)?.epoch !== lastEpoch) return Promise.resolve();
    const stop = new AbortController();
    const done = this.run(paths, seen, stop).finally(() => (this.running = null));
    this.running = { done, stop };
    return done;
  }

  /** Stops a forecast that runs (watch is stopping) and waits for it to end. */
  async close(): Promise<void> {
    this.closed = true;
    this.running?.stop.abort();
    await this.running?.done;
  }

  private async run(paths: StatePaths, seen: string, stop: AbortController): Promise<void> {
    const timeoutMs = this.loaded.config.git_timeout_seconds * 1000;
    const timer = this.ctx.timers.setTimeout(() => stop.abort(), timeoutMs);
    try {
      const all = undecidedCandidates(paths, this.loaded.config.remote);
      const candidates = watchedCandidates(all);
      if (candidates.length < all.length && !this.capped) this.ctx.logger.log('warn', 'collision_forecast_capped', { candidates: all.length, forecast: candidates.length });
      this.capped = candidates.length < all.length;
      const r = await forecast(this.loaded, this.ctx, candidates, { concurrency: 1, signal: stop.signal });
      this.lastSeen = seen;
      const now = new Set(r.pairs.map((p) => `${p.a.sha} ${p.b.sha}`));
      for (const p of r.pairs) {
        if (this.reported.has(`${p.a.sha} ${p.b.sha}`)) continue;
        this.ctx.logger.log('warn', 'collision_forecast', { slug: p.b.slug, branch: p.b.branch, sha: p.b.sha, with_slug: p.a.slug, with_branch: p.a.branch, with_sha: p.a.sha, paths: p.paths, main_sha: r.main_sha });
      }
      this.reported = now;
    } catch (e) {
      if (this.closed) return;
      this.ctx.logger.log('warn', 'collision_forecast_failed', { error: stop.signal.aborted ? `stopped after ${timeoutMs / 1000} s` : e instanceof Error ? e.message : String(e) });
    } finally {
      this.ctx.timers.clearTimeout(timer);
    }
  }
}

/**
 * Candidates `watch` forecasts at most: pairs grow with the square, and the forecast must stay a
 * small side job of the holder even when thousands of slugs wait for events that never come.
 */
export const WATCH_FORECAST_MAX = 100;

/** The candidates watch forecasts: the stack, the queue and the ready ones first, then the newest waiting ones, up to WATCH_FORECAST_MAX. */
export function watchedCandidates(all: readonly ForecastInput[]): ForecastInput[] {
  if (all.length <= WATCH_FORECAST_MAX) return [...all];
  const live = all.filter((c) => c.state !== 'waiting').slice(0, WATCH_FORECAST_MAX);
  const waiting = all.filter((c) => c.state === 'waiting');
  return [...live, ...waiting.slice(Math.max(0, waiting.length - (WATCH_FORECAST_MAX - live.length)))];
}

/** The log as a forecast saw it: a change of size or file means new events. */
function logIdentity(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}`;
  } catch {
    return '';
  }
}

export interface ForecastOptions {
  /** merge-tree processes run side by side (watch runs one: the holder's evaluation comes first). */
  concurrency?: number;
  /** Stops every git process of the forecast (watch's own timeout). */
  signal?: AbortSignal;
}

/** `conflicts`: the forecast for the candidates in the state directory. */
export async function conflicts(loaded: LoadedConfig, ctx: Context): Promise<ConflictsReport> {
  const paths = statePaths(loaded.config.state_dir);
  return forecast(loaded, ctx, undecidedCandidates(paths, loaded.config.remote));
}

/** The forecast for `candidates` (see the file comment). */
export async function forecast(loaded: LoadedConfig, ctx: Pick<Context, 'env' | 'timers' | 'now' | 'logger'>, candidates: readonly ForecastInput[], opts: ForecastOptions = {}): Promise<ConflictsReport> {
  const { remote, main_branch, git_timeout_seconds, state_dir } = loaded.config;
  const repoDir = loaded.repo.mainWorktree ?? loaded.repo.commonDir;
  const settings: GitSettings = { env: ctx.env, timeoutSeconds: git_timeout_seconds, timers: ctx.timers, signal: opts.signal };
  const graph = new CommitGraph(repoDir, loaded.repo.commonDir, state_dir, settings, ctx.logger);
  const read = () => openGit(repoDir, settings, { alternates: graph.alternates() });
  const mainRef = remoteRef(remote, main_branch);
  const [mainSha] = await resolveRevisions(read(), [mainRef]);
  const missing = () => errors.mainRefMissing(mainRef, remote, 'the forecast merges onto canonical main');
  if (!mainSha) throw missing();
  if (candidates.length === 0) return report(mainSha, [], { entries: new Map(), pairs: new Map() }, { alone: 0, pairs: 0, pairs_reused: 0, pairs_carried: 0 });
  // Merges walk history for their bases: with the tool's commit-graph they do it by generation numbers.
  graph.refresh(mainSha);
  await graph.settled();
  const h = read();
  const shas = [...new Set(candidates.map((c) => c.sha))];
  const [mainTree, ...commits] = await resolveRevisions(h, [`${mainSha}^{tree}`, ...shas.map((s) => `${s}^{commit}`)]);
  if (!mainTree) throw missing();
  const known = shas.filter((s, i) => commits[i] === s);

  const m = reportMerges({ stateDir: state_dir, commonDir: loaded.repo.commonDir, treeAttributes: repoDir !== loaded.repo.commonDir, settings, read: h, mainSha, alternates: graph.alternates(), logger: ctx.logger });
  try {
    const merges = new Merges(m.handle, opts.concurrency ?? 2, () => m.prepare());
    const cache = ForecastCacheFile.read(state_dir, ctx.logger);
    const run = new ForecastRun(h, cache, mainSha, mainTree, merges, ctx.logger);
    const answers = await run.answer(known, m.objectDir, ctx.now());
    cache.save(run.cacheData(), ctx.logger);
    return report(mainSha, candidates, answers, run.stats);
  } finally {
    m.remove();
  }
}

interface Answers {
  entries: Map<string, CandidateEntry>;
  pairs: Map<string, string[]>;
}

/** What the forecast ran and reused: `merges` in the report. */
interface Stats {
  alone: number;
  pairs: number;
  pairs_reused: number;
  pairs_carried: number;
}

/** merge-tree --stdin in chunks, `concurrency` processes at a time. */
class Merges {
  constructor(
    private readonly h: GitHandle,
    private readonly concurrency: number,
    /** Makes the directory merge-tree runs in ready before the first merge (once: ReportMerges). */
    private readonly prepare: () => Promise<void>,
  ) {}

  async merge(pairs: readonly MergePair[]): Promise<(MergeResult | null)[]> {
    if (pairs.length > 0) await this.prepare();
    const chunks: MergePair[][] = [];
    for (let i = 0; i < pairs.length; i += PAIRS_PER_PROCESS) chunks.push(pairs.slice(i, i + PAIRS_PER_PROCESS));
    const results: (MergeResult | null)[][] = chunks.map(() => []);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < chunks.length; i = next++) {
        // A pair git could not merge (its error is logged by the caller) has no answer, and is not cached.
        results[i] = (await new MergeTrees(this.h, false).merge(chunks[i] as MergePair[])).map((o) => (o.ok ? o.result : null));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.concurrency, chunks.length)) }, worker));
    return results.flat();
  }
}

/** One forecast on main's tip: what the cache answers, what carries over, what is merged now. */
class ForecastRun {
  readonly stats: Stats = { alone: 0, pairs: 0, pairs_reused: 0, pairs_carried: 0 };
  private readonly entries = new Map<string, CandidateEntry>();
  private readonly pairs = new Map<string, string[]>();
  /** Merged trees onto main made by this run: they live in its temporary object directory only, so they are never cached. */
  private readonly trees = new Map<string, string>();

  constructor(
    private readonly h: GitHandle,
    private readonly cache: ForecastCacheFile,
    private readonly mainSha: string,
    private readonly mainTree: string,
    private readonly merges: Merges,
    private readonly logger: Logger,
  ) {}

  async answer(shas: readonly string[], objectDir: string, now: Date): Promise<Answers> {
    const previous = this.cache.data;
    const sameMain = previous?.main_sha === this.mainSha;
    // Each candidate's topic on this main: from the cache on the same main, else from git.
    const topics = sameMain ? new Map<string, Topic>() : await topicsOf(this.h, shas, this.mainSha);
    const unknown = shas.filter((s) => !sameMain || !this.cache.entry(s));
    if (sameMain && unknown.length > 0) for (const [s, t] of await topicsOf(this.h, unknown, this.mainSha)) topics.set(s, t);
    const move = previous && !sameMain ? await this.mainMoveSince(previous.main_tree) : null;

    // Onto main alone: reused on the same main, carried over when the rule holds, else merged.
    const carried = new Set<string>();
    const toMerge: string[] = [];
    for (const s of shas) {
      const before = this.cache.entry(s);
      const topic = topics.get(s);
      if (before && sameMain) this.entries.set(s, before);
      else if (before && topic && move && carriesOver(before, topic, move)) {
        carried.add(s);
        this.entries.set(s, before);
      } else toMerge.push(s);
    }
    await this.mergeAlone(toMerge, topics);

    // Pairs of candidates that each merge cleanly onto main.
    const clean = shas.filter((s) => this.entries.get(s)?.onto_main === 'clean').sort();
    const todo: [string, string][] = [];
    for (let i = 0; i < clean.length; i++) {
      for (let j = i + 1; j < clean.length; j++) {
        const [a, b] = pairKey(clean[i] as string, clean[j] as string);
        const cached = this.cache.pair(a, b);
        if (cached && sameMain) {
          this.pairs.set(`${a} ${b}`, cached);
          this.stats.pairs_reused += 1;
        } else if (cached && carried.has(a) && carried.has(b)) {
          this.pairs.set(`${a} ${b}`, cached);
          this.stats.pairs_carried += 1;
        } else todo.push([a, b]);
      }
    }
    await this.mergePairs(todo, objectDir, now);
    return { entries: this.entries, pairs: this.pairs };
  }

  /** Main's change since the cached tree, as the rule reads it: the paths, and the directories it removed. */
  private async mainMoveSince(previousTree: string): Promise<MainMove> {
    const changes = await treeChanges(this.h, previousTree, this.mainTree);
    const removed = dirsOfDeletions(changes);
    const exists = await resolveRevisions(this.h, removed.map((d) => `${this.mainTree}:${d}`));
    return mainMove(changes, new Set(removed.filter((_, i) => exists[i] === null)));
  }

  private async mergeAlone(shas: readonly string[], topics: Map<string, Topic>): Promise<void> {
    if (shas.length === 0) return;
    const results = await this.merges.merge(shas.map((s) => [this.mainSha, s] as const));
    this.stats.alone += shas.length;
    shas.forEach((s, i) => {
      const r = results[i];
      const topic = topics.get(s);
      if (!r || !topic) {
        this.logger.log('warn', 'forecast_merge_failed', { sha: s, onto: this.mainSha });
        return;
      }
      const onto: OntoMain = !r.clean || !r.tree ? 'conflict' : r.tree === this.mainTree ? 'already_integrated' : 'clean';
      this.entries.set(s, { ...topic, onto_main: onto, conflicts: onto === 'conflict' ? conflictPaths(r) : [] });
      if (onto === 'clean' && r.tree) this.trees.set(s, r.tree);
    });
  }

  /** Merges b onto main's merge with a, for each pair; a's merge onto main is made first where this run did not make it. */
  private async mergePairs(pairs: readonly [string, string][], objectDir: string, now: Date): Promise<void> {
    if (pairs.length === 0) return;
    const firsts = [...new Set(pairs.map(([a]) => a))];
    const missing = firsts.filter((a) => !this.trees.has(a));
    if (missing.length > 0) {
      const results = await this.merges.merge(missing.map((a) => [this.mainSha, a] as const));
      this.stats.alone += missing.length;
      missing.forEach((a, i) => {
        const r = results[i];
        if (r?.clean && r.tree) this.trees.set(a, r.tree);
      });
    }
    const mergedWith = new Map<string, string>();
    for (const a of firsts) {
      const tree = this.trees.get(a);
      if (tree) mergedWith.set(a, writeMergeCommit(objectDir, { tree, parents: [this.mainSha, a], message: `forecast: ${a} onto ${this.mainSha}`, time: Math.floor(now.getTime() / 1000) }));
    }
    const run = pairs.filter(([a]) => mergedWith.has(a));
    const results = await this.merges.merge(run.map(([a, b]) => [mergedWith.get(a) as string, b] as const));
    this.stats.pairs += run.length;
    run.forEach(([a, b], i) => {
      const r = results[i];
      if (!r) this.logger.log('warn', 'forecast_merge_failed', { sha: b, onto: `${this.mainSha}+${a}` });
      else this.pairs.set(`${a} ${b}`, r.clean ? [] : conflictPaths(r));
    });
  }

  /** The cache for the next forecast: this main, these candidates and their pairs. */
  cacheData() {
    return { schema_version: 1 as const, main_sha: this.mainSha, main_tree: this.mainTree, candidates: Object.fromEntries(this.entries), pairs: Object.fromEntries(this.pairs) };
  }
}

/** Conflicted paths of a merge that is not clean (the paths its messages name when git listed none). */
const conflictPaths = (r: MergeResult): string[] => {
  const paths = [...new Set(r.conflicts.map((c) => c.path))].sort();
  return paths.length > 0 ? paths : ['(unknown: see git merge-tree)'];
};

/** A candidate's commits not in main, as the carry-over rule reads them. */
type Topic = Pick<CandidateEntry, 'topic' | 'paths' | 'vanished'>;

/**
 * For each sha: a digest of its commits not in main, the paths they change, and the directories they
 * removed (gone from its tree) — one `git log` for all of them, one lookup for the directories.
 */
async function topicsOf(h: GitHandle, shas: readonly string[], mainSha: string): Promise<Map<string, Topic>> {
  const commits = await commitsNotIn(h, shas, mainSha);
  const walked = shas.map((sha) => {
    const seen = new Set<string>();
    const todo = [sha];
    for (let c = todo.pop(); c !== undefined; c = todo.pop()) {
      const commit = commits.get(c);
      if (!commit || seen.has(c)) continue;
      seen.add(c);
      todo.push(...commit.parents);
    }
    const changes = [...seen].flatMap((c) => commits.get(c)?.changes ?? []);
    const removedDirs = dirsOfDeletions(changes);
    return { sha, ids: [...seen].sort(), paths: [...new Set(changes.map((c) => c.path))].sort(), removedDirs };
  });
  const asked = walked.flatMap((w) => w.removedDirs.map((d) => `${w.sha}:${d}`));
  const exists = new Map(asked.map((name, i) => [name, i]));
  const found = await resolveRevisions(h, asked);
  return new Map(
    walked.map((w) => [
      w.sha,
      {
        topic: w.ids.length === 0 ? '' : createHash('sha256').update(w.ids.join(',')).digest('hex').slice(0, 32),
        paths: w.paths,
        vanished: w.removedDirs.filter((d) => found[exists.get(`${w.sha}:${d}`) as number] === null),
      },
    ]),
  );
}

function report(mainSha: string, candidates: readonly ForecastInput[], answers: Answers, stats: Stats): ConflictsReport {
  const listed: ForecastCandidate[] = candidates.map((c) => {
    const e = answers.entries.get(c.sha);
    return { ...c, onto_main: e?.onto_main ?? 'unknown', conflicts: e?.conflicts ?? [] };
  });
  const pairs: ConflictsReport['pairs'] = [];
  for (let i = 0; i < listed.length; i++) {
    for (let j = i + 1; j < listed.length; j++) {
      const a = listed[i] as ForecastCandidate;
      const b = listed[j] as ForecastCandidate;
      if (a.sha === b.sha) continue;
      const paths = answers.pairs.get(pairKey(a.sha, b.sha).join(' '));
      if (paths && paths.length > 0) pairs.push({ a: { slug: a.slug, branch: a.branch, sha: a.sha }, b: { slug: b.slug, branch: b.branch, sha: b.sha }, paths: paths as [string, ...string[]] });
    }
  }
  return { main_sha: mainSha, candidates: listed, pairs, merges: stats };
}
