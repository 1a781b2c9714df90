/**
 * The git engine: for one candidate, the fresh re-check of the git readiness conditions (4: the sha
 * is on its remote branch; 6: it is not already in main) and the would-be merge against the current
 * canonical main tip. Nothing is cached between candidates. Unknown git state fails closed:
 * `would_block` with `git_error` and git's message.
 *
 * On the clean path git is spawned three times: resolve (main, main's tree, the branch tip and the
 * sha, one `cat-file --batch-check`), then merge-base and merge-tree side by side; a fourth
 * (is-ancestor) only when the sha is not the branch tip; plus `git version` once per process, and the
 * fetch when configured.
 */
import type { ResolvedConfig } from '../config/config.js';
import type { Logger } from '../context.js';
import { isShadowError } from '../contract/errors.js';
import type { CandidateRef, Conflict, Outcome, OutcomeKind, ReasonCode } from '../contract/types.generated.js';
import {
  assertSha,
  checkoutTreeInScratch,
  fetchRemoteTracking,
  gitVersion,
  isAncestor,
  mergeBase,
  mergeInScratch,
  mergeTree,
  openGit,
  remoteRef,
  resolveRevisions,
  temporaryObjects,
  type MergeResult,
} from '../git/index.js';
import { runChecks, ScratchWorktree } from './scratch.js';

/** What the engine decides for one candidate: the git part of an outcome record. */
export type Evaluation = Omit<Pick<Outcome, 'outcome' | 'reasons' | 'conflicts' | 'main_sha' | 'merge_base' | 'merged_tree' | 'message' | 'git_version' | 'engine'>, 'outcome'> & {
  outcome: Exclude<OutcomeKind, 'superseded'>;
};

/** A candidate's identity: the schemas' one CandidateRef. */
export type Candidate = CandidateRef;

export interface EngineOptions {
  /** The repository (main worktree, or the common dir of a bare repository). */
  repoDir: string;
  commonDir: string;
  config: Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks'>;
  /** `<state_dir>/scratch`. */
  scratchDir: string;
  logger: Logger;
  /** How often a long check logs that it still runs (default 30 s). */
  checkHeartbeatMs?: number;
}

export interface EngineContext extends EngineOptions {
  scratch: ScratchWorktree;
}

/** The evaluator the runtime calls per dequeued candidate; its scratch worktree is reused between candidates. */
export function createEngine(opts: EngineOptions): (c: Candidate) => Promise<Evaluation> {
  const ctx: EngineContext = { ...opts, scratch: new ScratchWorktree(opts.repoDir, opts.commonDir, opts.scratchDir) };
  return (c) => evaluateCandidate(ctx, c);
}

/** Longest message kept from git's conflict report: the ledger is one line per decision. */
const MESSAGE_LIMIT = 4096;

export async function evaluateCandidate(ctx: EngineContext, c: Candidate): Promise<Evaluation> {
  const { remote, main_branch, engine, checks } = ctx.config;
  const known: Pick<Evaluation, 'main_sha' | 'merge_base' | 'git_version'> = { main_sha: null, merge_base: null };
  const block = (reasons: ReasonCode[], message: string | undefined, conflicts: Conflict[] = []): Evaluation => ({
    outcome: 'would_block',
    reasons,
    conflicts,
    main_sha: known.main_sha,
    merge_base: known.merge_base,
    merged_tree: null,
    ...(message ? { message } : {}),
    ...(known.git_version ? { git_version: known.git_version } : {}),
    engine,
  });
  let objects: ReturnType<typeof temporaryObjects> | null = null;
  try {
    const h = openGit(ctx.repoDir);
    known.git_version = await gitVersion(h);
    // Event values are validated before anything else: a bad one is refused (git_error), never passed on.
    const mainRef = remoteRef(remote, main_branch);
    const branchRef = remoteRef(remote, c.branch);
    const sha = assertSha(c.sha);
    if (ctx.config.fetch) {
      const { missing } = await fetchRemoteTracking(h, remote, [main_branch, c.branch]);
      if (missing === c.branch && missing !== main_branch) return block(['sha_not_on_remote_branch'], `refs/heads/${c.branch} no longer exists on ${remote}`);
      if (missing !== null) return block(['git_error'], `refs/heads/${missing} does not exist on ${remote}: cannot evaluate against canonical main`);
    }

    const [mainSha, mainTree, tip, commit] = await resolveRevisions(h, [mainRef, `${mainRef}^{tree}`, branchRef, `${sha}^{commit}`]);
    if (!mainSha || !mainTree) return block(['git_error'], `${mainRef} does not exist: cannot evaluate against canonical main`);
    known.main_sha = mainSha;
    // A sha this repository does not have is unknown state (not fetched yet?), not a verdict.
    if (commit !== sha) return block(['git_error'], `${sha} is not a commit in this repository (not fetched yet? fetch: true refreshes before each evaluation)`);
    // The branch ref gone means the sha is certainly not on it: the branch was deleted (or never fetched).
    if (!tip) return block(['sha_not_on_remote_branch'], `${branchRef} does not exist: the branch was deleted on ${remote}, or never fetched`);
    if (tip !== sha && !(await isAncestor(h, sha, tip))) return block(['sha_not_on_remote_branch'], `${sha} is not reachable from ${branchRef} (${tip}): force-pushed since it was ready, or never pushed`);

    objects = temporaryObjects(ctx.commonDir);
    const tmp = objects;
    // merge-base and merge-tree need only the resolved shas: they run side by side (settled both, so
    // that neither outlives the temporary object directory). The worktree engine's merge waits.
    const [base, tried] = await Promise.allSettled([mergeBase(h, mainSha, sha), engine === 'merge-tree' ? mergeTree(openGit(ctx.repoDir, { objects: tmp }), mainSha, sha) : null]);
    if (base.status === 'rejected') throw base.reason;
    known.merge_base = base.value;
    if (known.merge_base === sha) return block(['already_integrated'], `${sha} is already an ancestor of ${mainRef}`);
    if (tried.status === 'rejected') throw tried.reason;
    const merged: MergeResult = tried.value ?? (await ctx.scratch.use(mainSha, tmp, (s) => mergeInScratch(s, sha)));
    if (!merged.clean || !merged.tree) return block(['merge_conflict'], merged.messages.join('\n').slice(0, MESSAGE_LIMIT), merged.conflicts);
    if (merged.tree === mainTree) return block(['already_integrated'], `merging ${sha} leaves ${mainRef}'s tree unchanged: its change is already there (squash-merged or cherry-picked)`);
    const tree = merged.tree;
    if (checks.length > 0) {
      const result = await ctx.scratch.use(mainSha, tmp, async (s) => {
        await checkoutTreeInScratch(s, tree);
        return runChecks(checks, ctx.scratch.dir, tmp, { candidate: c, logger: ctx.logger, heartbeatMs: ctx.checkHeartbeatMs ?? 30_000 });
      });
      if (!result.ok) return block(['checks_failed'], result.message);
    }
    return { outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: mainSha, merge_base: known.merge_base, merged_tree: tree, git_version: known.git_version, engine };
  } catch (e) {
    if (isShadowError(e) && e.code === 'E_GIT_TOO_OLD') throw e;
    const message = e instanceof Error ? e.message : String(e);
    ctx.logger.log('warn', 'git_error', { slug: c.slug, branch: c.branch, sha: c.sha, error: message });
    return block(['git_error'], message);
  } finally {
    objects?.remove();
  }
}
