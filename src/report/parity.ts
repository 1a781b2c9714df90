/**
 * `parity`: every shadow decision (the latest outcome of each candidate) held against what really
 * happened on canonical main, to decide whether the integrator could take over.
 *
 * Live fate of a candidate, from main's history:
 * - landed_clean: its sha is on main by a fast-forward, an octopus merge, or a merge whose tree is
 *   exactly git's automatic merge of its parents; or its change landed squashed (a main commit with
 *   its patch-id), or main reached the shadow's would-be merged tree.
 * - landed_resolved: it landed by a merge whose tree is not the automatic merge of its parents (a
 *   conflict resolved by hand, or changes made in the merge).
 * - reverted: it landed, then a later main commit reverted it ("This reverts commit <sha>" naming the
 *   candidate or its landing commit, or a commit carrying the landing's inverse patch-id).
 * - pending: none of these (yet).
 *
 * "Clean" is judged against the merge's own parents, not against the shadow's merged tree: main
 * usually moves between the shadow's evaluation and the live merge, and the same change merged onto
 * a newer main has another tree without anyone resolving anything. When the merge's parents are the
 * very commits the shadow merged — main alone, nothing stacked ahead — the shadow's recorded result
 * answers without a git call.
 *
 * Stack-caused blocks (base: queue): a would_block whose candidate merged cleanly onto main alone
 * and conflicted with candidates ahead of it (`collides_with`) is judged like any block, except when
 * live landed it cleanly without having landed first every candidate it collided with: live took
 * another order than the queue, and the owner of main, merging in queue order, would have seen the
 * conflict. That is `order_differs`, counted apart and not compared.
 *
 * Git calls: one cat-file, one log of main; beside each other, the patch ids of main's commits, the
 * inverse patch ids of the landings main's history finds alone, and one `merge-tree --stdin` for all
 * the live merges that the shadow's records cannot answer; then the inverse patch ids of the squash
 * merges found by patch id (a patch-id pass is two spawns). What a run learns is kept in the state
 * directory's cache (parity-cache.ts): the next run logs only the commits main gained since, and asks
 * patch ids and merges only of what it has not asked before — after main moved by a commit, a log of
 * that commit and little else.
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context, Logger } from '../context.js';
import { errors } from '../contract/errors.js';
import type { CandidateRef, FateCounts, Landing, LiveFate, Outcome, ParityCandidate, ParityReport, ShadowRow, Verdict } from '../contract/types.generated.js';
import { reportMerges } from '../git/attributes.js';
import { resolveRevisions } from '../git/batch.js';
import { remoteRef } from '../git/guard.js';
import { commitParents, diffPatchIds, walkCommits, type DiffSpec } from '../git/history.js';
import { MergeTrees } from '../git/merge.js';
import { openGit, type GitHandle } from '../git/runner.js';
import { readOutcomes } from '../ledger/ledger.js';
import { candidateKey } from '../readiness/projection.js';
import { statePaths } from '../store/paths.js';
import { MainHistory, NewCommits, type ChainCommit } from './main-history.js';
import { changeKey, ParityCacheFile, type Answers } from './parity-cache.js';

/** The report's shape is the schema's (parity.schema.json): the types and the rows and columns of the matrix. */
export type { Landing, LiveFate, ParityCandidate, ParityReport, ShadowRow, Verdict } from '../contract/types.generated.js';
export { LIVE_FATE_VALUES as LIVE_FATES, SHADOW_ROW_VALUES as SHADOW_ROWS } from '../contract/types.generated.js';

const DEFINITIONS = {
  agreement:
    'agreed / compared. Agreed: would_integrate that landed_clean; would_block that landed_resolved or was reverted. ' +
    'Compared: would_integrate and would_block decisions whose candidate landed (fate other than pending).',
  excluded: 'superseded decisions, would_block with already_integrated (in main before the shadow saw it), and pending candidates (not landed yet).',
  unsafe_permissive: 'would_integrate, but live needed a manual resolution (landed_resolved) or reverted it.',
  over_strict: 'would_block, but live landed it cleanly (for a stack-caused block: after landing what it collided with).',
  order_differs:
    'a stack-caused block (it merged cleanly onto main alone and conflicted with candidates ahead of it, collides_with) that live landed cleanly without landing first what it collided with: live took another order than the queue. Not compared.',
  interval: 'Wilson score interval, 95%.',
  gate: '--min-agreement X fails (exit 3) when agreement < X, when any unsafe-permissive mismatch exists, or when nothing could be compared.',
} as const;

export interface ParityOptions {
  since?: Date | undefined;
  minAgreement?: number | undefined;
}

export function parseMinAgreement(text: string): number {
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || x < 0 || x > 1) throw errors.optionInvalid('--min-agreement', text, 'must be a number from 0 to 1, e.g. 0.9');
  return x;
}

export async function parity(loaded: LoadedConfig, ctx: Context, opts: ParityOptions = {}): Promise<ParityReport> {
  const { remote, main_branch, git_timeout_seconds, state_dir } = loaded.config;
  const repoDir = loaded.repo.mainWorktree ?? loaded.repo.commonDir;
  const settings = { env: ctx.env, timeoutSeconds: git_timeout_seconds, timers: ctx.timers };
  const h = openGit(repoDir, settings);
  const mainRef = remoteRef(remote, main_branch);
  const decisions = latestDecisions(readOutcomes(statePaths(state_dir)).outcomes, opts.since);
  // Nothing decided, nothing to hold against main: no history is read, the cache is left as it is.
  const cache = decisions.length > 0 ? ParityCacheFile.read(state_dir, ctx.logger) : null;
  const cachedTip = cache?.history?.tip ?? null;
  const [mainSha, cachedTipHere] = await resolveRevisions(h, cachedTip ? [mainRef, `${cachedTip}^{commit}`] : [mainRef]);
  if (!mainSha) throw errors.mainRefMissing(mainRef, remote);
  if (!cache) return summarize(mainRef, mainSha, opts, []);

  const history = await mainHistory(h, mainSha, cachedTipHere ? cache.history : null, ctx.logger);
  // merge-tree writes the merged trees into a temporary object store, and runs in a directory of the tool's own.
  const m = reportMerges({ stateDir: state_dir, commonDir: loaded.repo.commonDir, treeAttributes: repoDir !== loaded.repo.commonDir, settings, read: h, mainSha, alternates: [], logger: ctx.logger });
  try {
    const trees = new MergeTrees(m.handle, false);
    const merges: Merges = {
      merge: async (pairs) => {
        if (pairs.length > 0) await m.prepare();
        return trees.merge(pairs);
      },
    };
    const fates = await liveFates(h, merges, history, cache, decisions);
    cache.save(history, ctx.logger);
    const landedAt = landingPositions(history, decisions, fates);
    return summarize(mainRef, mainSha, opts, decisions.map((o, i) => classify(o, fates[i] as Fate, landedAt)));
  } finally {
    m.remove();
  }
}

/**
 * Main's history up to `tip`: `cached` extended by the commits main gained since it, when main's
 * chain still runs through its tip; else built from the whole log. Said at debug level.
 */
async function mainHistory(h: GitHandle, tip: string, cached: MainHistory | null, logger: Logger): Promise<MainHistory> {
  if (cached?.tip === tip) {
    logger.log('debug', 'parity_history', { main: tip, read: 'cache' });
    return cached;
  }
  if (cached) {
    const added = new NewCommits();
    await walkCommits(h, tip, (c) => added.add(c), { exclude: cached.tip as string });
    const extended = cached.extend(added, tip);
    logger.log('debug', 'parity_history', { main: tip, read: extended ? 'new commits' : 'rewritten: whole log', since: cached.tip, commits: added.commits.size });
    if (extended) return cached;
  }
  const history = MainHistory.empty();
  const log = new NewCommits();
  await walkCommits(h, tip, (c) => log.add(c));
  if (!history.extend(log, tip)) throw errors.internal('reading main\'s history', `git log of ${tip} did not list ${tip}`);
  logger.log('debug', 'parity_history', { main: tip, read: 'whole log', commits: log.commits.size });
  return history;
}

/** The latest outcome of each candidate (the ledger is in decision order), decided at or after `since`. */
function latestDecisions(outcomes: readonly Outcome[], since: Date | undefined): Outcome[] {
  const latest = new Map<string, Outcome>();
  for (const o of outcomes) {
    const key = candidateKey(o);
    latest.delete(key); // re-inserted: the map keeps decision order
    latest.set(key, o);
  }
  return [...latest.values()].filter((o) => since === undefined || Date.parse(o.decided_at) >= since.getTime());
}

interface Fate {
  fate: LiveFate;
  landing: Landing | null;
  reverted_by: string | null;
}

interface Found {
  /** The main commit that brought the change in (a commit of a merged side branch, for a squash found there). */
  commit: string;
  via: Landing['via'];
}

type Merges = Pick<MergeTrees, 'merge'>;

async function liveFates(h: GitHandle, merges: Merges, history: MainHistory, cache: ParityCacheFile, decisions: readonly Outcome[]): Promise<Fate[]> {
  // Patch-ids only for main commits that can matter: from the oldest main the shadow evaluated against.
  const windowStart = decisions.reduce((min, o) => Math.min(min, evaluatedAt(history, o) ?? Infinity), Infinity);
  const window = history.singleParentFrom(Number.isFinite(windowStart) ? windowStart : 0);
  const offMain = uniqueBy(
    decisions.filter((o) => !history.has(o.sha)),
    (o) => o.sha,
  );
  // What main's history answers alone (a landing by sha or by tree) goes to git beside the patch ids:
  // the merges to check, the inverse changes a revert would carry.
  const direct = decisions.map((o) => landingFromHistory(o, history));
  const [forward, clean, directInverse] = await Promise.all([
    cachedPatchIds(h, history, cache.patchIds, [...window.map((to) => ({ to })), ...offMain.map(changeOf)]),
    cleanliness(merges, history, cache.cleanMerges, direct, decisions),
    cachedPatchIds(h, history, cache.inversePatchIds, inverseSpecs(direct, decisions, history), { reverse: true }),
  ]);
  const byPatchId = new Map<string, string[]>();
  for (const sha of window) {
    const id = forward.get(sha);
    if (id) byPatchId.set(id, [...(byPatchId.get(id) ?? []), sha]);
  }
  // Then the squash merges, found by patch id (always single-parent commits: clean by definition).
  const squashes = decisions.map((o, i) => (direct[i] ? null : squashLanding(o, history, forward.get(o.sha), byPatchId)));
  const found = direct.map((f, i) => f ?? squashes[i] ?? null);
  const [squashInverse, parents] = await Promise.all([cachedPatchIds(h, history, cache.inversePatchIds, inverseSpecs(squashes, decisions, history), { reverse: true }), landingParents(h, history, cache.sideParents, found)]);
  const inverse = new Map([...squashInverse, ...directInverse]);

  return decisions.map((o, i) => {
    const f = found[i];
    if (!f) return { fate: 'pending', landing: null, reverted_by: null };
    const landing: Landing = { commit: f.commit, via: f.via, clean: clean[i] as boolean, same_base: parents.get(f.commit)?.[0] === o.main_sha };
    const inverseId = inverse.get(inverseSpec(f, o, history).to);
    const reverts = [...history.revertsByMessage(o.sha), ...history.revertsByMessage(f.commit), ...(inverseId ? (byPatchId.get(inverseId) ?? []) : [])];
    const revert = earliestFrom(history, reverts, history.position(f.commit) as number, f.commit);
    return { fate: revert ? 'reverted' : landing.clean ? 'landed_clean' : 'landed_resolved', landing, reverted_by: revert ?? null };
  });
}

/**
 * Patch ids of `diffs` by their `to` (see `diffPatchIds`), asked of git only for the changes the
 * cache does not know. "No id" is kept only for a change of a commit on main (an empty change, for
 * good); for a candidate's change it may mean its objects are not here yet.
 */
async function cachedPatchIds(h: GitHandle, history: MainHistory, known: Answers<string | null>, diffs: readonly DiffSpec[], opts: { reverse?: boolean } = {}): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const missing: DiffSpec[] = [];
  for (const d of diffs) {
    const id = known.get(changeKey(d));
    if (id === undefined) missing.push(d);
    else if (id !== null) ids.set(d.to, id);
  }
  const computed = await diffPatchIds(h, missing, opts);
  for (const d of missing) {
    const id = computed.get(d.to);
    if (id !== undefined) ids.set(d.to, id);
    if (id !== undefined || history.has(d.to)) known.set(changeKey(d), id ?? null);
  }
  return ids;
}

/** Where the main the shadow evaluated against is on main's chain (undefined when it is not on main). */
const evaluatedAt = (history: MainHistory, o: Outcome) => (o.main_sha ? history.position(o.main_sha) : undefined);

/** The candidate's change: from the merge base the shadow used (else its first parent) to its sha. */
const changeOf = (o: Outcome): DiffSpec => (o.merge_base ? { to: o.sha, from: o.merge_base } : { to: o.sha });

/**
 * The main commit that brought the candidate in, as far as main's history alone says: the sha is on
 * main (itself on the first-parent chain, or a merge introduced it); else, from the main the shadow
 * evaluated against on, the first chain commit with the shadow's merged tree (main reached it).
 */
function landingFromHistory(o: Outcome, history: MainHistory): Found | null {
  const landing = history.landingOf(o.sha);
  if (landing) return { commit: landing.sha, via: landing.sha === o.sha ? 'ancestor' : 'merge' };
  const sameTree = o.merged_tree ? earliestFrom(history, history.withTree(o.merged_tree), evaluatedAt(history, o) ?? 0) : undefined;
  return sameTree ? { commit: sameTree, via: 'tree' } : null;
}

/** Else the first commit with the candidate's patch-id from the main the shadow evaluated against on: a squash merge. */
function squashLanding(o: Outcome, history: MainHistory, patchId: string | undefined, byPatchId: Map<string, string[]>): Found | null {
  const squash = patchId ? earliestFrom(history, byPatchId.get(patchId) ?? [], evaluatedAt(history, o) ?? 0) : undefined;
  return squash ? { commit: squash, via: 'squash' } : null;
}

/** The changes whose inverse a revert of each landing would carry, each once. */
function inverseSpecs(found: readonly (Found | null)[], decisions: readonly Outcome[], history: MainHistory): DiffSpec[] {
  return uniqueBy(
    found.flatMap((f, i) => (f ? [inverseSpec(f, decisions[i] as Outcome, history)] : [])),
    (d) => d.to,
  );
}

/**
 * The parents of each landing commit: from the chain; for a squash found on a merged side branch
 * (the history keeps no side commit's parents), from the cache, else from git in one call.
 */
async function landingParents(h: GitHandle, history: MainHistory, known: Answers<string[]>, found: readonly (Found | null)[]): Promise<Map<string, string[]>> {
  const parents = new Map<string, string[]>();
  const side: string[] = [];
  for (const f of found) {
    const of = f ? (history.onChain(f.commit)?.parents ?? known.get(f.commit)) : undefined;
    if (of) parents.set(f?.commit as string, of);
    else if (f && !side.includes(f.commit)) side.push(f.commit);
  }
  for (const [sha, of] of await commitParents(h, side)) {
    parents.set(sha, of);
    known.set(sha, of);
  }
  return parents;
}

/**
 * The change the landing put on main, whose inverse a revert carries: the candidate's own for an
 * ancestor; a merge's against its first parent; any other commit's against its parent (git's default).
 */
function inverseSpec(f: Found, o: Outcome, history: MainHistory): DiffSpec {
  if (f.via === 'ancestor') return changeOf(o);
  const parents = history.onChain(f.commit)?.parents ?? [];
  return parents.length > 1 ? { to: f.commit, from: parents[0] } : { to: f.commit };
}

/**
 * Whether each landing needed no hand. Only a merge can have needed one; an octopus merge cannot
 * (git's octopus strategy refuses conflicts); a merge of exactly what the shadow merged is compared
 * with the shadow's result; any other merge with the automatic merge of its own two parents — asked
 * of git once per merge commit ever, then answered by the cache.
 */
async function cleanliness(merges: Merges, history: MainHistory, known: Answers<boolean>, found: readonly (Found | null)[], decisions: readonly Outcome[]): Promise<boolean[]> {
  const answers: (boolean | ChainCommit)[] = found.map((f, i) => {
    // A merge landing is always a chain commit: the one that brought the candidate's sha in.
    const c = f?.via === 'merge' ? history.onChain(f.commit) : undefined;
    if (!c || c.parents.length > 2) return true;
    const o = decisions[i] as Outcome;
    // Only a merge onto main alone: with candidates stacked ahead, the shadow merged something else.
    const shadowMergedTheSame = c.parents[0] === o.main_sha && c.parents[1] === o.sha && (o.ahead ?? []).length === 0;
    if (shadowMergedTheSame && o.merged_tree) return c.tree === o.merged_tree;
    if (shadowMergedTheSame && o.reasons.includes('merge_conflict')) return false;
    return known.get(c.sha) ?? c;
  });
  // The merges neither the records nor the cache answer, each once, through one merge-tree process.
  const toMerge = uniqueBy(
    answers.filter((a): a is ChainCommit => typeof a !== 'boolean'),
    (m) => m.sha,
  );
  const merged = await merges.merge(toMerge.map((m) => [m.parents[0], m.parents[1]] as [string, string]));
  toMerge.forEach((m, i) => {
    const r = merged[i];
    if (!r?.ok) throw r?.error ?? errors.gitFailed(['merge-tree'], null, `no result for ${m.sha}`);
    known.set(m.sha, r.result.clean && r.result.tree === m.tree);
  });
  return answers.map((a) => (typeof a === 'boolean' ? a : (known.get(a.sha) as boolean)));
}

/** The earliest of `commits` that landed at chain index `from` or later, other than `except`. */
function earliestFrom(history: MainHistory, commits: readonly string[], from: number, except?: string): string | undefined {
  let best: { sha: string; at: number } | undefined;
  for (const sha of commits) {
    const at = history.position(sha);
    if (sha === except || at === undefined || at < from) continue;
    if (!best || at < best.at) best = { sha, at };
  }
  return best?.sha;
}

/** Where on main's chain each candidate landed: by its decision's landing, else (not decided in this report) as an ancestor of main. */
function landingPositions(history: MainHistory, decisions: readonly Outcome[], fates: readonly Fate[]): (c: CandidateRef) => number | undefined {
  const at = new Map<string, number>();
  decisions.forEach((o, i) => {
    const landing = fates[i]?.landing;
    const position = landing ? history.position(landing.commit) : undefined;
    if (position !== undefined) at.set(candidateKey(o), position);
  });
  return (c) => at.get(candidateKey(c)) ?? history.position(c.sha);
}

function classify(o: Outcome, f: Fate, landedAt: (c: CandidateRef) => number | undefined): ParityCandidate {
  const row: ShadowRow = o.outcome === 'would_block' && o.reasons.includes('already_integrated') ? 'already_integrated' : o.outcome;
  const collides = o.outcome === 'would_block' && o.collides_with?.length ? o.collides_with : undefined;
  let verdict = verdictOf(row, f.fate);
  if (collides && verdict === 'over_strict') {
    // Live landed it cleanly: after what it collided with (the shadow was too strict), or before it / without it (another order).
    const own = landedAt(o);
    const afterAll = own !== undefined && collides.every((x) => (landedAt(x) ?? Infinity) < own);
    if (!afterAll) verdict = 'order_differs';
  }
  return { slug: o.slug, branch: o.branch, sha: o.sha, outcome: o.outcome, reasons: o.reasons, decided_at: o.decided_at, row, ...f, verdict, ...(collides ? { collides_with: collides } : {}) };
}

function verdictOf(row: ShadowRow, fate: LiveFate): Verdict {
  if (fate === 'pending' || row === 'superseded' || row === 'already_integrated') return 'excluded';
  const landedClean = fate === 'landed_clean';
  if (row === 'would_integrate') return landedClean ? 'agree' : 'unsafe_permissive';
  return landedClean ? 'over_strict' : 'agree';
}

function summarize(mainRef: string, mainSha: string, opts: ParityOptions, candidates: ParityCandidate[]): ParityReport {
  const none = (): FateCounts => ({ landed_clean: 0, landed_resolved: 0, reverted: 0, pending: 0 });
  const matrix: ParityReport['matrix'] = { would_integrate: none(), would_block: none(), already_integrated: none(), superseded: none() };
  for (const c of candidates) matrix[c.row][c.fate] += 1;
  const count = (v: Verdict) => candidates.filter((c) => c.verdict === v).length;
  const agreed = count('agree');
  const unsafe = count('unsafe_permissive');
  const overStrict = count('over_strict');
  const compared = agreed + unsafe + overStrict;
  const agreement = compared > 0 ? agreed / compared : null;
  return {
    main_ref: mainRef,
    main_sha: mainSha,
    since: opts.since?.toISOString() ?? null,
    definitions: DEFINITIONS,
    matrix,
    compared,
    agreed,
    agreement,
    wilson95: wilson95(agreed, compared),
    unsafe_permissive: unsafe,
    over_strict: overStrict,
    stack_blocks: candidates.filter((c) => c.collides_with !== undefined).length,
    order_differs: count('order_differs'),
    pending: candidates.filter((c) => c.fate === 'pending').length,
    excluded: count('excluded'),
    gate: opts.minAgreement === undefined ? null : gate(opts.minAgreement, agreement, unsafe),
    mismatches: candidates.filter((c) => c.verdict === 'unsafe_permissive' || c.verdict === 'over_strict'),
    candidates,
  };
}

function gate(min: number, agreement: number | null, unsafe: number): NonNullable<ParityReport['gate']> {
  const failures: string[] = [];
  if (agreement === null) failures.push('no decision could be compared with main yet');
  else if (agreement < min) failures.push(`agreement ${(agreement * 100).toFixed(1)}% is below ${(min * 100).toFixed(1)}%`);
  if (unsafe > 0) failures.push(`${unsafe} unsafe-permissive mismatch(es)`);
  return { min_agreement: min, passed: failures.length === 0, failures };
}

/** Wilson score interval at 95% for `k` successes out of `n`: honest for small samples and rates near 0 or 1. */
export function wilson95(k: number, n: number): { low: number; high: number } | null {
  if (n === 0) return null;
  const z = 1.959963984540054;
  const p = k / n;
  const z2n = (z * z) / n;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n))) / (1 + z2n);
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

function uniqueBy<T>(items: readonly T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((t) => !seen.has(key(t)) && Boolean(seen.add(key(t))));
}
