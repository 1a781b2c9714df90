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
 * Git calls: one cat-file, one log of main, a forward and a reverse patch-id pass (two spawns each),
 * and one `merge-tree --stdin` for all the live merges that the shadow's records cannot answer.
 */
import { join } from 'node:path';
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { CandidateRef, Outcome, OutcomeKind, ReasonCode } from '../contract/types.generated.js';
import { resolveRevisions } from '../git/batch.js';
import { remoteRef } from '../git/guard.js';
import { diffPatchIds, listCommits, type CommitInfo, type DiffSpec } from '../git/history.js';
import { MergeTrees } from '../git/merge.js';
import { createTemporaryObjects } from '../git/objects.js';
import { openGit, type GitHandle } from '../git/runner.js';
import { readOutcomes } from '../ledger/ledger.js';
import { candidateKey } from '../readiness/projection.js';
import { statePaths } from '../store/paths.js';
import { MainHistory } from './main-history.js';

export type LiveFate = 'landed_clean' | 'landed_resolved' | 'reverted' | 'pending';
export const LIVE_FATES: readonly LiveFate[] = ['landed_clean', 'landed_resolved', 'reverted', 'pending'];

/** The shadow side of the matrix: the outcome, with `already_integrated` blocks apart (nothing was left to decide). */
export type ShadowRow = 'would_integrate' | 'would_block' | 'already_integrated' | 'superseded';
export const SHADOW_ROWS: readonly ShadowRow[] = ['would_integrate', 'would_block', 'already_integrated', 'superseded'];

export type Verdict = 'agree' | 'unsafe_permissive' | 'over_strict' | 'order_differs' | 'excluded';

export const DEFINITIONS = {
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

export interface Landing {
  /** The main commit that brought the change in: the sha itself, the merge, or the squash commit. */
  commit: string;
  via: 'ancestor' | 'merge' | 'squash' | 'tree';
  clean: boolean;
  /** The landing's first parent is the main tip the shadow evaluated against: both started from the same main. */
  same_base: boolean;
}

export interface ParityCandidate {
  slug: string;
  branch: string;
  sha: string;
  outcome: OutcomeKind;
  reasons: ReasonCode[];
  decided_at: string;
  row: ShadowRow;
  fate: LiveFate;
  landing: Landing | null;
  reverted_by: string | null;
  verdict: Verdict;
  /** For a stack-caused block: the candidates ahead it collided with. */
  collides_with?: CandidateRef[];
}

export interface ParityReport {
  main_ref: string;
  main_sha: string;
  since: string | null;
  definitions: typeof DEFINITIONS;
  matrix: Record<ShadowRow, Record<LiveFate, number>>;
  compared: number;
  agreed: number;
  /** null when nothing could be compared. */
  agreement: number | null;
  wilson95: { low: number; high: number } | null;
  unsafe_permissive: number;
  over_strict: number;
  /** would_block decisions that came from the stack (collides_with). */
  stack_blocks: number;
  /** Stack-caused blocks live landed cleanly in another order. */
  order_differs: number;
  pending: number;
  excluded: number;
  gate: { min_agreement: number; passed: boolean; failures: string[] } | null;
  mismatches: ParityCandidate[];
  candidates: ParityCandidate[];
}

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
  const { remote, main_branch, git_timeout_seconds } = loaded.config;
  const repoDir = loaded.repo.mainWorktree ?? loaded.repo.commonDir;
  const settings = { env: ctx.env, timeoutSeconds: git_timeout_seconds, timers: ctx.timers };
  const h = openGit(repoDir, settings);
  const mainRef = remoteRef(remote, main_branch);
  const [mainSha] = await resolveRevisions(h, [mainRef]);
  if (!mainSha) throw errors.mainRefMissing(mainRef, remote);

  const decisions = latestDecisions(readOutcomes(statePaths(loaded.config.state_dir)).outcomes, opts.since);
  const history = new MainHistory(decisions.length > 0 ? await listCommits(h, mainSha) : [], mainSha);
  // merge-tree writes the merged trees: into a temporary object store, never the repository's.
  const objects = createTemporaryObjects(loaded.config.state_dir);
  try {
    const merges = new MergeTrees(openGit(repoDir, settings, { objectDir: objects.dir, alternates: [join(loaded.repo.commonDir, 'objects')] }), false);
    const fates = await liveFates(h, merges, history, decisions);
    const landedAt = landingPositions(history, decisions, fates);
    return summarize(mainRef, mainSha, opts, decisions.map((o, i) => classify(o, fates[i] as Fate, landedAt)));
  } finally {
    objects.remove();
  }
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
  commit: CommitInfo;
  via: Landing['via'];
}

async function liveFates(h: GitHandle, merges: MergeTrees, history: MainHistory, decisions: readonly Outcome[]): Promise<Fate[]> {
  // Patch-ids only for main commits that can matter: from the oldest main the shadow evaluated against.
  const windowStart = decisions.reduce((min, o) => Math.min(min, evaluatedAt(history, o) ?? Infinity), Infinity);
  const window = history.inLandingOrder(Number.isFinite(windowStart) ? windowStart : 0).filter((c) => c.parents.length <= 1);
  const offMain = uniqueBy(
    decisions.filter((o) => !history.has(o.sha)),
    (o) => o.sha,
  );
  const forward = await diffPatchIds(h, [...window.map((c) => ({ to: c.sha })), ...offMain.map(changeOf)]);
  const byPatchId = new Map<string, CommitInfo[]>();
  for (const c of window) {
    const id = forward.get(c.sha);
    if (id) byPatchId.set(id, [...(byPatchId.get(id) ?? []), c]);
  }

  const found = decisions.map((o) => findLanding(o, history, forward.get(o.sha), byPatchId));
  const inverses = uniqueBy(
    found.flatMap((f, i) => (f ? [inverseSpec(f, decisions[i] as Outcome)] : [])),
    (d) => d.to,
  );
  const [inverse, clean] = await Promise.all([diffPatchIds(h, inverses, { reverse: true }), cleanliness(merges, found, decisions)]);

  return decisions.map((o, i) => {
    const f = found[i];
    if (!f) return { fate: 'pending', landing: null, reverted_by: null };
    const landing: Landing = { commit: f.commit.sha, via: f.via, clean: clean[i] as boolean, same_base: f.commit.parents[0] === o.main_sha };
    const inverseId = inverse.get(inverseSpec(f, o).to);
    const reverts = [...history.revertsByMessage(o.sha), ...history.revertsByMessage(f.commit.sha), ...(inverseId ? (byPatchId.get(inverseId) ?? []) : [])];
    const revert = earliestFrom(history, reverts, history.position(f.commit.sha) as number, f.commit.sha);
    return { fate: revert ? 'reverted' : landing.clean ? 'landed_clean' : 'landed_resolved', landing, reverted_by: revert?.sha ?? null };
  });
}

/** Where the main the shadow evaluated against is on main's chain (undefined when it is not on main). */
const evaluatedAt = (history: MainHistory, o: Outcome) => (o.main_sha ? history.position(o.main_sha) : undefined);

/** The candidate's change: from the merge base the shadow used (else its first parent) to its sha. */
const changeOf = (o: Outcome): DiffSpec => (o.merge_base ? { to: o.sha, from: o.merge_base } : { to: o.sha });

/**
 * The main commit that brought the candidate in: the sha is on main (itself on the first-parent
 * chain, or a merge introduced it); else, from the main the shadow evaluated against on, the first
 * commit with the shadow's merged tree, or with the candidate's patch-id (a squash merge).
 */
function findLanding(o: Outcome, history: MainHistory, patchId: string | undefined, byPatchId: Map<string, CommitInfo[]>): Found | null {
  const landing = history.landingOf(o.sha);
  if (landing) return { commit: landing, via: landing.sha === o.sha ? 'ancestor' : 'merge' };
  const from = evaluatedAt(history, o) ?? 0;
  const sameTree = o.merged_tree ? earliestFrom(history, history.withTree(o.merged_tree), from) : undefined;
  if (sameTree) return { commit: sameTree, via: 'tree' };
  const squash = patchId ? earliestFrom(history, byPatchId.get(patchId) ?? [], from) : undefined;
  return squash ? { commit: squash, via: 'squash' } : null;
}

/** The change the landing put on main, whose inverse a revert carries. */
function inverseSpec(f: Found, o: Outcome): DiffSpec {
  if (f.via === 'ancestor') return changeOf(o);
  const parent = f.commit.parents[0];
  return parent ? { to: f.commit.sha, from: parent } : { to: f.commit.sha };
}

/**
 * Whether each landing needed no hand. Only a merge can have needed one; an octopus merge cannot
 * (git's octopus strategy refuses conflicts); a merge of exactly what the shadow merged is compared
 * with the shadow's result; any other merge with the automatic merge of its own two parents.
 */
async function cleanliness(merges: MergeTrees, found: readonly (Found | null)[], decisions: readonly Outcome[]): Promise<boolean[]> {
  const answers: (boolean | CommitInfo)[] = found.map((f, i) => {
    if (!f || f.via !== 'merge' || f.commit.parents.length > 2) return true;
    const o = decisions[i] as Outcome;
    // Only a merge onto main alone: with candidates stacked ahead, the shadow merged something else.
    const shadowMergedTheSame = f.commit.parents[0] === o.main_sha && f.commit.parents[1] === o.sha && (o.ahead ?? []).length === 0;
    if (shadowMergedTheSame && o.merged_tree) return f.commit.tree === o.merged_tree;
    if (shadowMergedTheSame && o.reasons.includes('merge_conflict')) return false;
    return f.commit;
  });
  // The merges the records cannot answer, each once, through one merge-tree process.
  const toMerge = uniqueBy(
    answers.filter((a): a is CommitInfo => typeof a !== 'boolean'),
    (m) => m.sha,
  );
  const merged = await merges.merge(toMerge.map((m) => [m.parents[0], m.parents[1]] as [string, string]));
  const automatic = new Map<string, boolean>();
  toMerge.forEach((m, i) => {
    const r = merged[i];
    if (!r?.ok) throw r?.error ?? errors.gitFailed(['merge-tree'], null, `no result for ${m.sha}`);
    automatic.set(m.sha, r.result.clean && r.result.tree === m.tree);
  });
  return answers.map((a) => (typeof a === 'boolean' ? a : (automatic.get(a.sha) as boolean)));
}

/** The earliest of `commits` that landed at chain index `from` or later, other than `except`. */
function earliestFrom(history: MainHistory, commits: readonly CommitInfo[], from: number, except?: string): CommitInfo | undefined {
  let best: { c: CommitInfo; at: number } | undefined;
  for (const c of commits) {
    const at = history.position(c.sha);
    if (c.sha === except || at === undefined || at < from) continue;
    if (!best || at < best.at) best = { c, at };
  }
  return best?.c;
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
    const afterAll = own !== undefined && collides.every((c) => (landedAt(c) ?? Infinity) < own);
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
  const matrix = Object.fromEntries(SHADOW_ROWS.map((r) => [r, Object.fromEntries(LIVE_FATES.map((f) => [f, 0]))])) as ParityReport['matrix'];
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
