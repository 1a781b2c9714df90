/**
 * The stack onto live main (base: queue): the candidates decided would_integrate that main does not
 * contain yet, merged onto main in decision order as an owner of main would have merged them. Each
 * step is a merge commit written into the evaluation's temporary object directory (main-so-far and
 * the candidate as parents, the merged tree), never into the repository; its identity and time are
 * functions of what it merges, so an unchanged stack onto an unchanged main is the same commits and
 * every merge result is found again by the commits merged (no merge is made twice).
 *
 * Before a candidate is merged onto it, each entry is checked against the refs as they are: it
 * leaves the stack when its branch is gone or no longer contains it (`branch_gone`), when main
 * contains it — an ancestor of main, or merging it onto main and the entries ahead of it changes
 * nothing: merged, squashed or cherry-picked (`on_main`) — and when, main having moved, it no longer
 * merges cleanly onto main and the entries ahead of it (`no_longer_merges`: the owner of main would
 * have merged it before main moved, so live main took something else; keeping it would block every
 * later candidate for a conflict nobody can resolve).
 *
 * What it costs. The stack built for one candidate is kept in the workspace (`BuiltStack`): while
 * main is unchanged and its entries are the first ones still in the stack, only the entries decided
 * since are merged onto it — the steps a build from scratch would make are those same commits, as
 * every step is a function of what it merges (and the next engine takes it from the one before:
 * stack-cache.ts). When main moved (or an entry left from the middle),
 * the stack is merged again entry by entry: on git 2.39 one process each, as each merge's base is
 * the one before. Carrying the old stack onto the new main with one merge was tried and dropped:
 * its history and its merge bases are not those of the owner's stack, so a verdict could differ.
 */
import type { CandidateRef, Conflict, StackEntry } from '../contract/types.generated.js';
import { mergeCommitId, writeMergeCommit } from '../git/objects.js';
import type { MergeResult } from '../git/parse.js';
import { stackKey } from '../store/journal.js';
import type { Tenure, Workspace } from './evaluate.js';

export interface StackLeft {
  entry: StackEntry;
  reason: 'on_main' | 'branch_gone' | 'no_longer_merges';
  /** For people (a log line). */
  message: string;
}

/** One entry merged onto the stack below it: the commit of that merge and its tree. */
export interface Stacked {
  entry: StackEntry;
  commit: string;
  tree: string;
}

/**
 * A stack built in a workspace on live main `main`: its steps in order, each with the entry's
 * stackKey. Its commits are in that workspace's object directory only.
 */
export interface BuiltStack {
  main: string;
  /** `sha`: the entry's; the step's commit has the step before (or main) and it as parents. */
  steps: { key: string; sha: string; commit: string; tree: string; time: number }[];
}

export interface StackView {
  /** Live main's tree: what the first entry was merged onto. */
  mainTree: string;
  /** What the candidate is merged onto: main, or the last stack commit. */
  base: string;
  tree: string;
  ahead: Stacked[];
  left: StackLeft[];
}

/**
 * The stack as it stands on `main`. `tips[i]`: the remote branch tip of entry i, null when the branch
 * or the entry's commit is gone.
 */
export async function stackOnto(t: Tenure, w: Workspace, main: { sha: string; tree: string }, stack: readonly StackEntry[], tips: readonly (string | null)[]): Promise<StackView> {
  const left: StackLeft[] = [];
  const kept: StackEntry[] = [];
  for (const [i, e] of stack.entries()) {
    const tip = tips[i] ?? null;
    if (tip === null) left.push({ entry: e, reason: 'branch_gone', message: `its branch ${e.branch} or its commit is gone` });
    else if (tip !== e.sha && !(await t.isAncestor(e.sha, tip))) left.push({ entry: e, reason: 'branch_gone', message: `its branch ${e.branch} no longer contains it (force-pushed to ${tip})` });
    else if (await t.isAncestor(e.sha, main.sha)) left.push({ entry: e, reason: 'on_main', message: `it is an ancestor of main ${main.sha}` });
    else kept.push(e);
  }
  const view: StackView = { mainTree: main.tree, base: main.sha, tree: main.tree, ahead: [], left };
  if (kept.length === 0) return view;
  const times = await t.commitTimes([main.sha, ...kept.map((e) => e.sha)]);
  const built: BuiltStack = { main: main.sha, steps: [] };
  let time = times[0] as number;
  // The steps of the last build onto this main while they are still the first entries: taken as
  // they are, each checked to be the very commit this build would write (a kept stack may be damaged).
  const prev = w.stack?.main === main.sha ? w.stack.steps : [];
  for (const [i, e] of kept.entries()) {
    const step = prev[i];
    if (step === undefined || step.key !== stackKey(e)) break;
    const stepTime = Math.max(time, times[i + 1] as number);
    if (step.time !== stepTime || step.tree.length !== main.sha.length || step.commit !== mergeCommitId(stepCommit(view.base, e, step.tree, stepTime))) break;
    time = stepTime;
    built.steps.push(step);
    view.ahead.push({ entry: e, commit: step.commit, tree: step.tree });
    view.base = step.commit;
    view.tree = step.tree;
  }
  // Sequential: each merge's base is the one before (a batch cannot hold them on git < 2.49).
  for (const [i, e] of kept.entries()) {
    if (i < built.steps.length) continue;
    const [merged] = (await t.merges(w, main.sha, [[view.base, e.sha]])) as [MergeResult];
    if (!merged.clean || !merged.tree) {
      left.push({ entry: e, reason: 'no_longer_merges', message: `it no longer merges cleanly onto main ${main.sha}${view.ahead.length > 0 ? ' and the candidates ahead of it' : ''}: ${merged.conflicts.map((c) => c.path).join(', ')}` });
      continue;
    }
    if (merged.tree === view.tree) {
      left.push({ entry: e, reason: 'on_main', message: `merging it onto main ${main.sha}${view.ahead.length > 0 ? ' and the candidates ahead of it' : ''} changes nothing: main has its change (squashed or cherry-picked)` });
      continue;
    }
    time = Math.max(time, times[i + 1] as number);
    const commit = writeWorkspaceCommit(w, stepCommit(view.base, e, merged.tree, time));
    view.ahead.push({ entry: e, commit, tree: merged.tree });
    built.steps.push({ key: stackKey(e), sha: e.sha, commit, tree: merged.tree, time });
    view.base = commit;
    view.tree = merged.tree;
  }
  // An entry that left while being merged is not a step: the next build on this main stops before it.
  w.stack = built.steps.length > 0 ? built : null;
  return view;
}

/** Writes a merge commit into the workspace's objects, and registers it for merge bases walked in process. */
function writeWorkspaceCommit(w: Workspace, c: { tree: string; parents: string[]; message: string; time: number }): string {
  const commit = writeMergeCommit(w.dir, c);
  w.commits.set(commit, { parents: c.parents, date: c.time });
  return commit;
}

/** The commit of one step: `e` merged onto `onto` (main, or the step before). */
const stepCommit = (onto: string, e: StackEntry, tree: string, time: number) => ({ tree, parents: [onto, e.sha], message: `Merge ${e.branch} (${e.slug}) onto the stack\n`, time });

/**
 * For a candidate that conflicts with main plus the stack: which entries ahead it collides with —
 * undefined when it conflicts with main alone (the conflict is main's, not the stack's). First the
 * entries whose merge changed a conflicted path (one cat-file request: each path in each stack
 * step's tree against the step before); when that is one entry, it is the one. Otherwise each such
 * entry (every entry, when none is found by path: a rename) is merged onto main alone and the
 * candidate onto that: the ones it conflicts with are named; when none does alone (the conflict
 * needs several of them), all of those are.
 */
export async function collidingAhead(t: Tenure, w: Workspace, main: string, view: StackView, sha: string, conflicts: readonly Conflict[]): Promise<CandidateRef[] | undefined> {
  const [onMain] = await t.merges(w, main, [[main, sha]]);
  if (!onMain?.clean) return undefined;
  const refOf = (a: Stacked): CandidateRef => ({ slug: a.entry.slug, branch: a.entry.branch, sha: a.entry.sha });
  const paths = [...new Set(conflicts.map((c) => c.path))].filter((p) => !/[\r\n]/.test(p));
  const steps = [view.mainTree, ...view.ahead.map((a) => a.tree)];
  const ids = paths.length > 0 ? await t.names.resolve(steps.flatMap((tree) => paths.map((p) => `${tree}:${p}`))) : [];
  const touched = view.ahead.filter((_, j) => paths.some((_p, i) => ids[(j + 1) * paths.length + i] !== ids[j * paths.length + i]));
  if (touched.length === 1) return touched.map(refOf);
  const suspects = touched.length > 0 ? touched : view.ahead;
  // Each suspect merged onto main alone (the first entry's is the stack's first commit), then the candidate onto each.
  const bases: string[] = [];
  const times = await t.commitTimes([main, ...suspects.map((a) => a.entry.sha)]);
  const alone = await t.merges(w, main, suspects.map((a) => [main, a.entry.sha] as const));
  suspects.forEach((a, i) => {
    const r = alone[i] as MergeResult;
    if (a === view.ahead[0]) return void bases.push(a.commit);
    if (!r.clean || !r.tree) return void bases.push('');
    const time = Math.max(times[0] as number, times[i + 1] as number);
    bases.push(writeWorkspaceCommit(w, { tree: r.tree, parents: [main, a.entry.sha], message: `Merge ${a.entry.branch} (${a.entry.slug}) onto main\n`, time }));
  });
  const tried = suspects.filter((_, i) => bases[i] !== '');
  const onEach = await t.merges(w, main, tried.map((a) => [bases[suspects.indexOf(a)] as string, sha] as const));
  const named = tried.filter((_, i) => !onEach[i]?.clean);
  return (named.length > 0 ? named : suspects).map(refOf);
}
