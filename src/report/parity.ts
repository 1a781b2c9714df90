/**
 * `parity`: every shadow decision held against what actually happened on canonical main, read from
 * git history. Decides whether the integrator could take over: the agreement rate (with a Wilson
 * 95% interval), and above all the unsafe-permissive count — shadow said would_integrate, and the
 * live path needed a manual resolution or reverted it.
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { Outcome } from '../contract/types.generated.js';
import { listCommits, mergeTree, openGit, patchIds, remoteRef, temporaryObjects, type CommitInfo, type GitHandle } from '../git/index.js';
import { readOutcomes } from '../ledger/ledger.js';
import { statePaths } from '../store/paths.js';
import { parseSince } from './outcomes.js';

export type LiveFate = 'landed_clean' | 'landed_resolved' | 'reverted' | 'pending';
export const FATES: readonly LiveFate[] = ['landed_clean', 'landed_resolved', 'reverted', 'pending'];

export interface ParityRow {
  slug: string;
  branch: string;
  sha: string;
  outcome: Outcome['outcome'];
  reasons: Outcome['reasons'];
  fate: LiveFate;
  /** The main commit through which it landed (merge, squash or the commit itself), or that reverted it. */
  evidence: string | null;
  verdict: 'agree' | 'unsafe_permissive' | 'over_strict' | 'not_compared';
}

export interface ParityReport {
  main_ref: string;
  main_sha: string | null;
  decisions: number;
  compared: number;
  agreements: number;
  agreement_rate: number | null;
  wilson95: [number, number] | null;
  matrix: Record<'would_integrate' | 'would_block', Record<LiveFate, number>>;
  unsafe_permissive: number;
  over_strict: number;
  pending: number;
  superseded: number;
  mismatches: ParityRow[];
  rows: ParityRow[];
  definition: string;
}

export const AGREEMENT_DEFINITION =
  'would_integrate agrees with landed_clean; would_block agrees with landed_resolved or reverted (and, for already_integrated, with any landing); ' +
  'pending candidates (not on main) and superseded ones are not compared. unsafe_permissive: would_integrate but landed_resolved or reverted. over_strict: would_block but landed_clean.';

export async function parity(loaded: LoadedConfig, ctx: Context, opts: { since?: string | undefined } = {}): Promise<ParityReport> {
  const { config, repo } = loaded;
  const since = opts.since !== undefined ? parseSince(opts.since, ctx.now()) : null;
  const latest = new Map<string, Outcome>();
  for (const o of readOutcomes(statePaths(config.state_dir).outcomes).outcomes) {
    if (since === null || Date.parse(o.decided_at) >= since) latest.set(`${o.slug}\0${o.branch}\0${o.sha}`, o);
  }
  const decisions = [...latest.values()];
  const h = openGit(repo.mainWorktree ?? repo.commonDir);
  const mainRef = remoteRef(config.remote, config.main_branch);
  const history = await readHistory(h, mainRef, decisions);
  const rows: ParityRow[] = [];
  for (const d of decisions) {
    if (d.outcome === 'superseded') continue;
    const { fate, evidence } = await liveFate(h, repo.commonDir, d, history);
    rows.push({ slug: d.slug, branch: d.branch, sha: d.sha, outcome: d.outcome, reasons: d.reasons, fate, evidence, verdict: verdict(d, fate) });
  }
  return summarize(mainRef, history.commits[0]?.sha ?? null, decisions.length, decisions.length - rows.length, rows);
}

interface History {
  commits: CommitInfo[];
  onMain: Set<string>;
  /** Candidate sha → the merge commit on main that has it as a non-first parent. */
  mergedBy: Map<string, CommitInfo>;
  /** Commit sha → the main commit whose message says it reverts it. */
  revertedBy: Map<string, string>;
  trees: Map<string, string>;
  /** Patch id → main commit with that patch (squash merges). */
  patches: Map<string, string>;
  candidatePatches: Map<string, string>;
}

/** Main's history in one `git log`, patch ids in one pass each for main and for candidates not on main. */
async function readHistory(h: GitHandle, mainRef: string, decisions: readonly Outcome[]): Promise<History> {
  let commits: CommitInfo[] = [];
  try {
    commits = await listCommits(h, mainRef);
  } catch {
    // no main yet: everything is pending
  }
  const onMain = new Set(commits.map((c) => c.sha));
  const mergedBy = new Map<string, CommitInfo>();
  const revertedBy = new Map<string, string>();
  const trees = new Map<string, string>();
  for (const c of [...commits].reverse()) {
    for (const p of c.parents.slice(1)) if (!mergedBy.has(p)) mergedBy.set(p, c);
    for (const m of `${c.subject}\n${c.body}`.matchAll(/This reverts commit ([0-9a-f]{40,64})/g)) if (m[1]) revertedBy.set(m[1], c.sha);
    if (!trees.has(c.tree)) trees.set(c.tree, c.sha);
  }
  const notOnMain = [...new Set(decisions.filter((d) => d.outcome !== 'superseded' && !onMain.has(d.sha)).map((d) => d.sha))];
  const candidatePatches = notOnMain.length > 0 ? await patchIdsOrEmpty(h, notOnMain) : new Map<string, string>();
  const patches = new Map<string, string>();
  if (candidatePatches.size > 0) {
    for (const [commit, id] of await patchIdsOrEmpty(h, commits.filter((c) => c.parents.length === 1).map((c) => c.sha))) if (!patches.has(id)) patches.set(id, commit);
  }
  return { commits, onMain, mergedBy, revertedBy, trees, patches, candidatePatches };
}

async function patchIdsOrEmpty(h: GitHandle, shas: string[]): Promise<Map<string, string>> {
  try {
    return await patchIds(h, shas);
  } catch {
    return new Map(); // a candidate sha this clone does not have: it cannot have landed here either
  }
}

async function liveFate(h: GitHandle, commonDir: string, d: Outcome, hist: History): Promise<{ fate: LiveFate; evidence: string | null }> {
  let landed: { fate: LiveFate; via: string } | null = null;
  if (hist.onMain.has(d.sha)) {
    const merge = hist.mergedBy.get(d.sha);
    landed = merge ? { fate: await mergeFate(h, commonDir, merge, d.sha), via: merge.sha } : { fate: 'landed_clean', via: d.sha };
  } else {
    const patch = hist.candidatePatches.get(d.sha);
    const squash = patch ? hist.patches.get(patch) : undefined;
    const sameTree = d.merged_tree ? hist.trees.get(d.merged_tree) : undefined;
    if (squash ?? sameTree) landed = { fate: 'landed_clean', via: (squash ?? sameTree) as string };
  }
  if (!landed) return { fate: 'pending', evidence: null };
  const revert = hist.revertedBy.get(d.sha) ?? hist.revertedBy.get(landed.via);
  return revert ? { fate: 'reverted', evidence: revert } : { fate: landed.fate, evidence: landed.via };
}

/** A merge on main landed cleanly when git's own merge of its first parent and the sha gives its tree. */
async function mergeFate(h: GitHandle, commonDir: string, merge: CommitInfo, sha: string): Promise<LiveFate> {
  const objects = temporaryObjects(commonDir);
  try {
    const auto = await mergeTree(openGit(h.cwd, { objects }), merge.parents[0] as string, sha);
    return auto.clean && auto.tree === merge.tree ? 'landed_clean' : 'landed_resolved';
  } finally {
    objects.remove();
  }
}

function verdict(d: Outcome, fate: LiveFate): ParityRow['verdict'] {
  if (fate === 'pending') return 'not_compared';
  if (d.outcome === 'would_integrate') return fate === 'landed_clean' ? 'agree' : 'unsafe_permissive';
  if (d.reasons.includes('already_integrated')) return 'agree';
  return fate === 'landed_clean' ? 'over_strict' : 'agree';
}

function summarize(mainRef: string, mainSha: string | null, decisions: number, superseded: number, rows: ParityRow[]): ParityReport {
  const matrix = { would_integrate: zeroFates(), would_block: zeroFates() };
  for (const r of rows) if (r.outcome !== 'superseded') matrix[r.outcome][r.fate] += 1;
  const compared = rows.filter((r) => r.verdict !== 'not_compared');
  const agreements = compared.filter((r) => r.verdict === 'agree').length;
  const rate = compared.length > 0 ? agreements / compared.length : null;
  return {
    main_ref: mainRef,
    main_sha: mainSha,
    decisions,
    compared: compared.length,
    agreements,
    agreement_rate: rate,
    wilson95: rate === null ? null : wilson(agreements, compared.length),
    matrix,
    unsafe_permissive: rows.filter((r) => r.verdict === 'unsafe_permissive').length,
    over_strict: rows.filter((r) => r.verdict === 'over_strict').length,
    pending: rows.filter((r) => r.fate === 'pending').length,
    superseded,
    mismatches: rows.filter((r) => r.verdict === 'unsafe_permissive' || r.verdict === 'over_strict'),
    rows,
    definition: AGREEMENT_DEFINITION,
  };
}

const zeroFates = (): Record<LiveFate, number> => ({ landed_clean: 0, landed_resolved: 0, reverted: 0, pending: 0 });

/** Wilson score interval at 95%: honest for small samples and rates near 0 or 1. */
export function wilson(successes: number, n: number, z = 1.96): [number, number] {
  const p = successes / n;
  const z2 = z * z;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const margin = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, center - margin), Math.min(1, center + margin)];
}

/** The cutover gate: null when it passes, else why not. */
export function gateFailure(report: ParityReport, minAgreement: number): string | null {
  if (report.unsafe_permissive > 0) return `${report.unsafe_permissive} unsafe-permissive mismatch(es)`;
  if (report.agreement_rate === null) return 'no decision could be compared with main yet';
  if (report.agreement_rate < minAgreement) return `agreement ${(report.agreement_rate * 100).toFixed(1)}% is below ${(minAgreement * 100).toFixed(1)}%`;
  return null;
}
