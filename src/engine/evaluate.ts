/**
 * The git engine: for one candidate, the fresh re-check of the git readiness conditions (4: the sha
 * is on its remote branch; 6: it is not already in main) and the would-be merge against the current
 * canonical main tip. Nothing is cached between candidates. Unknown git state fails closed:
 * `would_block` with `git_error` and git's message.
 *
 * On the clean path it spawns git three times: resolve (main, main's tree, the branch tip and the
 * sha, in one rev-parse), merge-base, merge-tree; a fourth only when the sha is not the branch tip.
 */
import type { ResolvedConfig } from '../config/config.js';
import type { Logger } from '../context.js';
import { isShadowError } from '../contract/errors.js';
import type { Conflict, Outcome, ReasonCode } from '../contract/types.generated.js';
import {
  conflictKind,
  fetchRemoteTracking,
  gitVersion,
  inScratch,
  isAncestor,
  mergeBase,
  mergeTree,
  openGit,
  remoteRef,
  resolveRevisions,
  temporaryObjects,
  type GitHandle,
} from '../git/index.js';
import { ScratchWorktree } from './scratch.js';

/** What the engine decides for one candidate: the git part of an outcome record. */
export type Evaluation = Pick<Outcome, 'reasons' | 'conflicts' | 'main_sha' | 'merge_base' | 'merged_tree' | 'message' | 'git_version' | 'engine'> & {
  outcome: 'would_integrate' | 'would_block';
};

export interface Candidate {
  slug: string;
  branch: string;
  sha: string;
}

export interface EngineOptions {
  /** The repository (main worktree, or the common dir of a bare repository). */
  repoDir: string;
  commonDir: string;
  config: Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks'>;
  scratchDir: string;
  logger: Logger;
}

export function createEngine(opts: EngineOptions): (c: Candidate) => Promise<Evaluation> {
  const scratch = new ScratchWorktree(opts.repoDir, opts.scratchDir);
  return (c) => evaluateCandidate(opts, scratch, c);
}

interface Facts {
  main_sha: string | null;
  merge_base: string | null;
  git_version?: string;
}

async function evaluateCandidate(opts: EngineOptions, scratch: ScratchWorktree, c: Candidate): Promise<Evaluation> {
  const { remote, main_branch } = opts.config;
  const engine = opts.config.engine;
  const facts: Facts = { main_sha: null, merge_base: null };
  const block = (reasons: ReasonCode[], message?: string, conflicts: Conflict[] = []): Evaluation => ({
    outcome: 'would_block',
    reasons,
    conflicts,
    main_sha: facts.main_sha,
    merge_base: facts.merge_base,
    merged_tree: null,
    ...(message !== undefined ? { message } : {}),
    ...(facts.git_version ? { git_version: facts.git_version } : {}),
    engine,
  });
  const h = openGit(opts.repoDir);
  let objects: ReturnType<typeof temporaryObjects> | null = null;
  try {
    facts.git_version = await gitVersion(h);
    if (opts.config.fetch) await fetchRemoteTracking(h, remote, [...new Set([main_branch, c.branch])]);
    const mainRef = remoteRef(remote, main_branch);
    const branchRef = remoteRef(remote, c.branch);
    const [mainSha, mainTree, tip, sha] = await resolveRevisions(h, [mainRef, `${mainRef}^{tree}`, branchRef, `${c.sha}^{commit}`]);
    if (!mainSha || !mainTree) return block(['git_error'], `${mainRef} does not exist: cannot evaluate against canonical main`);
    facts.main_sha = mainSha;
    if (!sha) return block(['git_error'], `${c.sha} is not a commit in this repository (not fetched yet?)`);
    if (!tip) return block(['sha_not_on_remote_branch'], `${branchRef} does not exist (branch deleted, or not fetched)`);
    if (!(await isAncestor(h, sha, tip))) return block(['sha_not_on_remote_branch'], `${c.sha} is not reachable from ${branchRef} (${tip}): force-pushed or never pushed`);
    facts.merge_base = await mergeBase(h, mainSha, sha);
    if (facts.merge_base === sha) return block(['already_integrated'], `${c.sha} is already an ancestor of ${mainRef}`);

    objects = temporaryObjects(opts.commonDir);
    const merged = engine === 'worktree' ? await mergeInWorktree(scratch, mainSha, sha, objects) : await mergeTree(openGit(opts.repoDir, { objects }), mainSha, sha);
    if (!merged.clean) return block(['merge_conflict'], undefined, merged.conflicts);
    if (merged.tree === mainTree) return block(['already_integrated'], `merging ${c.sha} leaves ${mainRef}'s tree unchanged (its change is already there)`);
    if (opts.config.checks.length > 0) {
      const sh = await scratch.open(mainSha, objects);
      await scratch.materialize(sh, merged.tree);
      const result = await scratch.runChecks(opts.config.checks, sh.env);
      if (!result.ok) return block(['checks_failed'], result.message);
    }
    return { outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: mainSha, merge_base: facts.merge_base, merged_tree: merged.tree, git_version: facts.git_version, engine };
  } catch (e) {
    if (isShadowError(e) && e.code === 'E_GIT_TOO_OLD') throw e;
    const message = isShadowError(e) ? e.message : (e as Error).message;
    opts.logger.log('warn', 'git_error', { slug: c.slug, branch: c.branch, sha: c.sha, error: message });
    return block(['git_error'], message);
  } finally {
    objects?.remove();
  }
}

/**
 * `engine: worktree`: a real `git merge --no-commit --no-ff` in the scratch worktree, for merge
 * setups merge-tree cannot reproduce (merge drivers from config). Conflicts are read from the
 * unmerged index entries, each with the kind of the merge's CONFLICT line that names it; the
 * scratch worktree is reset afterwards.
 */
async function mergeInWorktree(scratch: ScratchWorktree, mainSha: string, sha: string, objects: { dir: string; alternate: string }): Promise<{ tree: string; clean: boolean; conflicts: Conflict[] }> {
  const h: GitHandle = await scratch.open(mainSha, objects);
  await inScratch(h, ['reset', '--hard', '--quiet', mainSha]);
  try {
    let output: string;
    try {
      output = await inScratch(h, ['merge', '--no-commit', '--no-ff', '--no-edit', '--quiet', sha]);
    } catch (e) {
      output = isShadowError(e) ? String(e.details.stderr ?? '') : '';
    }
    const unmerged = new Set((await inScratch(h, ['ls-files', '-u', '-z'])).split('\0').map((entry) => entry.split('\t')[1]).filter((p): p is string => Boolean(p)));
    if (unmerged.size === 0) return { tree: (await inScratch(h, ['write-tree'])).trim(), clean: true, conflicts: [] };
    const lines = output.split('\n').filter((l) => l.startsWith('CONFLICT ('));
    const conflicts = [...unmerged].map((path) => ({ path, kind: conflictKind(lines.find((l) => l.includes(path)) ?? '', '') ?? 'contents' }));
    return { tree: '', clean: false, conflicts };
  } finally {
    await inScratch(h, ['reset', '--hard', '--quiet', mainSha]).catch(() => '');
  }
}
