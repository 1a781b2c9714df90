/**
 * The git engine: for one candidate, the fresh re-check of the git readiness conditions (4: the sha
 * is on its remote branch; 6: it is not already in main) and the would-be merge against the current
 * canonical main tip. Unknown git state — a git that failed, timed out or was refused — fails closed:
 * `would_block` with `git_error` and git's message. Anything else is not a verdict about the candidate
 * and propagates: a cancelled evaluation, an unusable state directory, and our own bugs (E_INTERNAL).
 *
 * An engine serves one tenure and keeps warm what is worth keeping between its candidates: a
 * long-lived `cat-file --batch-command` that resolves names and reads commits, a temporary object
 * directory (recycled), the scratch repository, the commit-graph (refreshed, and read in memory), and
 * on git ≥ 2.49 a long-lived merge-tree. Nothing it learns about refs is kept: each candidate is
 * re-checked against the refs as they are. `close()`
 * stops all of it (killing what is running: an evaluation in flight fails with E_CANCELLED); a later
 * `evaluate` starts afresh, so warm processes are never shared across tenures as long as each tenure
 * ends with `close()`.
 *
 * Per candidate on the clean path: two requests to the warm cat-file (main, the branch tip and the
 * sha; then main's tree); the merge base (and, when the sha is not the branch tip, its ancestry) walked in this
 * process over the tool's commit-graph (src/git/ancestry.ts; git's merge-base when that cannot
 * decide) beside merge-tree — 1 spawn (none on git ≥ 2.49, where merge-tree is long-lived); plus the
 * fetch when configured.
 */
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/config.js';
import type { Logger, Timers } from '../context.js';
import { errors, isShadowError } from '../contract/errors.js';
import type { CandidateRef, Conflict, Outcome, OutcomeKind, ReasonCode } from '../contract/types.generated.js';
import { bestCommonAncestors } from '../git/ancestry.js';
import { CatFileBatch } from '../git/batch.js';
import { fetchRemoteTracking } from '../git/fetch.js';
import { CommitGraph } from '../git/graph.js';
import { assertSha, remoteRef } from '../git/guard.js';
import { isAncestor, mergeBase } from '../git/history.js';
import { MergeTrees } from '../git/merge.js';
import { createTemporaryObjects, sweepTemporaryObjects, type TemporaryObjects } from '../git/objects.js';
import { versionAtLeast, type MergeResult } from '../git/parse.js';
import { openGit, type GitHandle, type GitSettings, type HandleOptions } from '../git/runner.js';
import { checkoutTreeInScratch, mergeInScratch } from '../git/scratch.js';
import { gitVersion } from '../git/version.js';
import { runChecks, ScratchRepository, type ChecksContext } from './scratch.js';

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
  /** `state_dir`: the scratch repository, temporary object directories and caches live under it. */
  stateDir: string;
  config: Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks' | 'git_timeout_seconds'>;
  /** The environment git and checks start from (the Context's). */
  env: NodeJS.ProcessEnv;
  timers: Timers;
  now: () => Date;
  logger: Logger;
  /** How often a long check logs that it still runs (default 30 s). */
  checkHeartbeatMs?: number;
}

export interface Engine {
  evaluate(candidate: Candidate): Promise<Evaluation>;
  /** Stops every process the engine runs and removes its temporary objects; idempotent. */
  close(): Promise<void>;
}

export function createEngine(opts: EngineOptions): Engine {
  let tenure: Tenure | null = null;
  return {
    evaluate: (c) => evaluateCandidate((tenure ??= new Tenure(opts)), c),
    close: async () => {
      const t = tenure;
      tenure = null;
      await t?.close();
    },
  };
}

/** Evaluations a temporary object directory serves before it is replaced by an empty one. */
const OBJECTS_RECYCLE_AFTER = 64;
/**
 * Candidates between two looks at whether the commit-graph needs a new layer. Commits newer than
 * the graph are read one by one from the warm cat-file; this keeps them few.
 */
const REFRESH_EVERY = 32;

/** What one engine keeps between candidates (see the file comment). */
class Tenure {
  readonly config: EngineOptions['config'];
  readonly logger: Logger;
  readonly names: CatFileBatch;
  readonly graph: CommitGraph;
  readonly scratch: ScratchRepository;
  private readonly abort = new AbortController();
  private readonly settings: GitSettings;
  private readonly canonicalObjects: string;
  private version: Promise<string> | null = null;
  private objects: { t: TemporaryObjects; uses: number; inUse: number } | null = null;
  /** git ≥ 2.49: merge-tree --stdin answers line by line, so one process serves many merges. */
  private longLivedMerges = false;
  private warmMerge: { key: string; merges: MergeTrees } | null = null;
  private evaluations = 0;

  constructor(private readonly opts: EngineOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    this.settings = { env: opts.env, timeoutSeconds: opts.config.git_timeout_seconds, timers: opts.timers, signal: this.abort.signal };
    this.canonicalObjects = join(opts.commonDir, 'objects');
    this.names = new CatFileBatch(this.git(opts.repoDir));
    this.graph = new CommitGraph(opts.repoDir, opts.commonDir, opts.stateDir, this.settings, opts.logger);
    this.scratch = new ScratchRepository(join(opts.stateDir, 'scratch'), opts.commonDir, (objectDir) => this.git(this.scratch.dir, { scratch: this.scratch.dir, objectDir, alternates: [this.canonicalObjects, join(this.scratch.dir, '.git', 'objects')] }), opts.logger);
    for (const dir of sweepTemporaryObjects(opts.stateDir)) opts.logger.log('info', 'temporary_objects_swept', { dir });
  }

  git(cwd: string, opts: HandleOptions = {}): GitHandle {
    return openGit(cwd, this.settings, opts);
  }

  /** The canonical repository, reading through the tool's commit-graph when there is one. */
  repo(): GitHandle {
    return this.git(this.opts.repoDir, { alternates: this.graph.alternates() });
  }

  /** The merge base of `a` and `b` (null: none), found in this process when it can be, else by git. */
  async mergeBase(a: string, b: string): Promise<string | null> {
    const bases = await this.bestCommonAncestors(a, b);
    return bases !== null && bases.length <= 1 ? (bases[0] ?? null) : mergeBase(this.repo(), a, b);
  }

  /** Whether `ancestor` is reachable from `descendant`, found in this process when it can be, else by git. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const bases = await this.bestCommonAncestors(ancestor, descendant);
    return bases !== null && bases.length <= 1 ? bases[0] === ancestor : isAncestor(this.repo(), ancestor, descendant);
  }

  private async bestCommonAncestors(a: string, b: string): Promise<string[] | null> {
    const index = this.graph.index();
    return index ? bestCommonAncestors(a, b, index, (oids) => this.names.commits(oids)) : null;
  }

  /** Refreshes the commit-graph when main moved: with a tenure's first candidate, then every REFRESH_EVERY. */
  noteMain(mainSha: string): void {
    if (this.evaluations++ % REFRESH_EVERY === 0) this.graph.refresh(mainSha);
  }

  /** What checks run with: the engine's environment, timers, and its cancellation. */
  checksContext(objectDir: string, candidate: Candidate): ChecksContext {
    const { env, timers, now, logger, checkHeartbeatMs } = this.opts;
    return { cwd: this.scratch.dir, objectDir, env, timers, now, signal: this.abort.signal, candidate, logger, heartbeatMs: checkHeartbeatMs ?? 30_000 };
  }

  /** `git version`, asked once per tenure at most (and cached by binary across processes). */
  gitVersion(): Promise<string> {
    if (!this.version) {
      const asked = gitVersion(this.repo(), join(this.opts.stateDir, 'cache', 'git-version.json'));
      this.version = asked.then((v) => {
        this.longLivedMerges = versionAtLeast(v, 2, 49);
        return v;
      });
      this.version.catch(() => (this.version = null));
    }
    return this.version;
  }

  /** The temporary object directory for one evaluation; `release` when the evaluation is done with it. */
  acquireObjects(): { dir: string; release(): void } {
    if (this.objects && this.objects.uses >= OBJECTS_RECYCLE_AFTER && this.objects.inUse === 0) this.retireObjects();
    const o = (this.objects ??= { t: createTemporaryObjects(this.opts.stateDir), uses: 0, inUse: 0 });
    o.uses++;
    o.inUse++;
    return { dir: o.t.dir, release: () => void o.inUse-- };
  }

  /** merge-tree of `theirs` into `ours`, its objects written into `objectDir`. */
  async mergeTree(objectDir: string, ours: string, theirs: string): Promise<MergeResult> {
    const [outcome] = await this.merger(objectDir).merge([[ours, theirs]]);
    if (!outcome) throw errors.internal('merging', new Error('merge-tree gave no outcome'));
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  /** On git ≥ 2.49 one long-lived merge-tree per object directory and alternates; before, a process per call. */
  private merger(objectDir: string): MergeTrees {
    const h = this.git(this.opts.repoDir, { objectDir, alternates: [this.canonicalObjects, ...this.graph.alternates()] });
    if (!this.longLivedMerges) return new MergeTrees(h, false);
    const key = `${objectDir}\0${h.env.GIT_ALTERNATE_OBJECT_DIRECTORIES ?? ''}`;
    if (this.warmMerge?.key !== key) {
      void this.warmMerge?.merges.close();
      this.warmMerge = { key, merges: new MergeTrees(h, true) };
    }
    return this.warmMerge.merges;
  }

  private retireObjects(): void {
    void this.warmMerge?.merges.close();
    this.warmMerge = null;
    this.objects?.t.remove();
    this.objects = null;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([this.names.close(), this.warmMerge?.merges.close(), this.graph.settled()]);
    this.warmMerge = null;
    this.objects?.t.remove();
    this.objects = null;
  }
}

/** Longest message kept from git's conflict report: the ledger is one line per decision. */
const MESSAGE_LIMIT = 4096;

/** Failures that are a verdict about the candidate: git failed, timed out, or was refused its values. */
const GIT_FAILURES = new Set(['E_GIT_FAILED', 'E_GIT_TIMEOUT', 'E_GIT_REFUSED']);

async function evaluateCandidate(t: Tenure, c: Candidate): Promise<Evaluation> {
  const { remote, main_branch, engine, checks } = t.config;
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
  try {
    known.git_version = await t.gitVersion();
    // Event values are validated before anything else: a bad one is refused (git_error), never passed on.
    const mainRef = remoteRef(remote, main_branch);
    const branchRef = remoteRef(remote, c.branch);
    const sha = assertSha(c.sha);
    if (t.config.fetch) {
      const { missing } = await fetchRemoteTracking(t.repo(), remote, [main_branch, c.branch]);
      if (missing === c.branch && missing !== main_branch) return block(['sha_not_on_remote_branch'], `refs/heads/${c.branch} no longer exists on ${remote}`);
      if (missing !== null) return block(['git_error'], `refs/heads/${missing} does not exist on ${remote}: cannot evaluate against canonical main`);
    }

    const [mainSha, tip, commit] = await t.names.resolve([mainRef, branchRef, `${sha}^{commit}`]);
    // main's tree by main's id, not its name: main may move between two lookups.
    const [mainTree] = mainSha ? await t.names.resolve([`${mainSha}^{tree}`]) : [null];
    if (!mainSha || !mainTree) return block(['git_error'], `${mainRef} does not exist: cannot evaluate against canonical main`);
    known.main_sha = mainSha;
    // A sha this repository does not have is unknown state (not fetched yet?), not a verdict.
    if (commit !== sha) return block(['git_error'], `${sha} is not a commit in this repository (not fetched yet? fetch: true refreshes before each evaluation)`);
    // The branch ref gone means the sha is certainly not on it: the branch was deleted (or never fetched).
    if (!tip) return block(['sha_not_on_remote_branch'], `${branchRef} does not exist: the branch was deleted on ${remote}, or never fetched`);
    t.noteMain(mainSha);

    const objects = t.acquireObjects();
    try {
      // Ancestry, merge base and merge-tree need only the resolved shas: side by side (settled all, so
      // that none outlives the temporary object directory). The worktree engine's merge waits.
      const [onBranch, base, tried] = await Promise.allSettled([
        tip === sha ? true : t.isAncestor(sha, tip),
        t.mergeBase(mainSha, sha),
        engine === 'merge-tree' ? t.mergeTree(objects.dir, mainSha, sha) : null,
      ]);
      if (onBranch.status === 'rejected') throw onBranch.reason;
      if (!onBranch.value) return block(['sha_not_on_remote_branch'], `${sha} is not reachable from ${branchRef} (${tip}): force-pushed since it was ready, or never pushed`);
      if (base.status === 'rejected') throw base.reason;
      known.merge_base = base.value;
      if (known.merge_base === sha) return block(['already_integrated'], `${sha} is already an ancestor of ${mainRef}`);
      if (tried.status === 'rejected') throw tried.reason;
      const merged: MergeResult = tried.value ?? (await t.scratch.use(mainSha, objects.dir, (s) => mergeInScratch(s, sha)));
      if (!merged.clean || !merged.tree) return block(['merge_conflict'], merged.messages.join('\n').slice(0, MESSAGE_LIMIT), merged.conflicts);
      if (merged.tree === mainTree) return block(['already_integrated'], `merging ${sha} leaves ${mainRef}'s tree unchanged: its change is already there (squash-merged or cherry-picked)`);
      const tree = merged.tree;
      if (checks.length > 0) {
        const result = await t.scratch.use(mainSha, objects.dir, async (s) => {
          await checkoutTreeInScratch(s, tree);
          return runChecks(checks, t.checksContext(objects.dir, c));
        });
        if (!result.ok) return block(['checks_failed'], result.message);
      }
      return { outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: mainSha, merge_base: known.merge_base, merged_tree: tree, git_version: known.git_version, engine };
    } finally {
      objects.release();
    }
  } catch (e) {
    if (isShadowError(e) && GIT_FAILURES.has(e.code)) {
      t.logger.log('warn', 'git_error', { slug: c.slug, branch: c.branch, sha: c.sha, error: e.message });
      return block(['git_error'], e.message);
    }
    if (isShadowError(e)) throw e;
    throw errors.internal(`evaluating candidate ${String(c.slug)}`, e);
  }
}
