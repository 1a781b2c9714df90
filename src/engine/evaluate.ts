/**
 * The git engine: for one candidate, the fresh re-check of the git readiness conditions (4: the sha
 * is on its remote branch; 6: it is not already in main) and the would-be merge against the current
 * canonical main tip — with `base: queue`, against main plus the stack ahead of it (stack.ts): the
 * candidates decided would_integrate that main does not contain yet, merged in decision order into
 * commits of the temporary object directory, as an owner of main would have merged them. Unknown git state — a git that failed, timed out or was refused — fails closed:
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
 * sha — and the stack's branches and the next candidates' shas; then main's tree); the merge base
 * (and, when the sha is not the branch tip, its ancestry) walked in this process over the tool's
 * commit-graph (src/git/ancestry.ts; git's merge-base when that cannot decide) beside merge-tree — 1
 * spawn (none on git ≥ 2.49, where merge-tree is long-lived); plus the fetch when configured.
 *
 * Merges are batched: a merge-tree process merges the candidate and, speculatively, the next
 * candidates of the queue onto the same base; each result is kept by the exact commits merged (the
 * base is main's tip or a stack commit, whose id is a function of what it holds) and used only when
 * a later candidate is merged onto that very base — main that moved, or a stack that grew, is another
 * commit and misses. With base: tip every next candidate is worth merging ahead; with base: queue a
 * would_integrate grows the stack and spoils the speculation, so it widens only after blocks.
 */
import { join, resolve } from 'node:path';
import type { ResolvedConfig } from '../config/config.js';
import type { Logger, Timers } from '../context.js';
import { errors, isShadowError } from '../contract/errors.js';
import type { CandidateRef, Conflict, Outcome, OutcomeKind, ReasonCode, StackEntry } from '../contract/types.generated.js';
import { bestCommonAncestors, type CommitNode } from '../git/ancestry.js';
import { attributesCachePath, MergeDirectory } from '../git/attributes.js';
import { CatFileBatch } from '../git/batch.js';
import { fetchRemoteTracking } from '../git/fetch.js';
import { CommitGraph } from '../git/graph.js';
import { assertSha, remoteRef, SHA } from '../git/guard.js';
import { isAncestor, mergeBase } from '../git/history.js';
import { MergeTrees, type MergeOutcome, type MergePair } from '../git/merge.js';
import { createTemporaryObjects, objectDirBytes, sweepTemporaryObjects, type TemporaryObjects } from '../git/objects.js';
import { versionAtLeast, type MergeResult } from '../git/parse.js';
import { openGit, type GitHandle, type GitSettings, type HandleOptions } from '../git/runner.js';
import { checkoutTreeInScratch, mergeInScratch, resetScratch } from '../git/scratch.js';
import { gitVersion } from '../git/version.js';
import { runChecks, ScratchRepository, type ChecksContext } from './scratch.js';
import { keepStack, takeKeptStack } from './stack-cache.js';
import { collidingAhead, stackOnto, type BuiltStack, type StackLeft, type StackView } from './stack.js';


/** What the engine decides for one candidate: the git part of an outcome record, and what it found about the stack. */
export type Evaluation = Omit<Pick<Outcome, 'outcome' | 'reasons' | 'conflicts' | 'main_sha' | 'merge_base' | 'merged_tree' | 'message' | 'git_version' | 'engine' | 'collides_with'>, 'outcome'> & {
  outcome: Exclude<OutcomeKind, 'superseded'>;
  /** The candidates the merge was stacked on (empty or absent: onto live main alone, or no merge was tried). */
  ahead?: CandidateRef[];
  /** With a stack: the entries found to leave it, and the main it was checked against. */
  stack?: { left: StackLeft[]; checked: { main_sha: string; at: string } };
};

/** A candidate's identity: the schemas' one CandidateRef. */
export type Candidate = CandidateRef;

/** What the runtime tells the engine beside the candidate. */
export interface EvaluationContext {
  /** `base`: with queue, a would_integrate grows the stack (and spoils merges made ahead onto the old one). */
  base?: 'queue' | 'tip';
  /** The stack, in decision order (base: queue): merged onto main before the candidate. */
  stack?: readonly StackEntry[];
  /** The candidates to be evaluated next, in order: their merges onto the same base may be made in the same batch. */
  upcoming?: readonly Candidate[];
}

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
  evaluate(candidate: Candidate, context?: EvaluationContext): Promise<Evaluation>;
  /** Stops every process the engine runs and removes its temporary objects; idempotent. */
  close(): Promise<void>;
}

export function createEngine(opts: EngineOptions): Engine {
  let tenure: Tenure | null = null;
  return {
    evaluate: (c, context = {}) => evaluateCandidate((tenure ??= new Tenure(opts)), c, context),
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
 * A directory that holds a built stack is kept past that count (building the stack again costs a
 * merge per entry) until its objects outgrow this.
 */
const STACK_OBJECTS_MAX_BYTES = 64 * 1024 * 1024;
/**
 * Candidates between two looks at whether the commit-graph needs a new layer. Commits newer than
 * the graph are read one by one from the warm cat-file; this keeps them few.
 */
const REFRESH_EVERY = 32;
/** Merges made ahead of their candidate in one batch, at most. */
const MAX_AHEAD = 32;
/** Merge results kept per temporary object directory (their trees are there), at most. */
const MAX_RESULTS = 1024;

/**
 * A temporary object directory and what is known about the objects in it: merge results by the
 * commits merged (their trees are here), and the commits the tool wrote here (the stack's merges),
 * whose parents and times the in-process ancestry walk needs.
 */
export interface Workspace {
  readonly dir: string;
  readonly results: Map<string, MergeResult>;
  readonly commits: Map<string, CommitNode>;
  /** The last stack built here (its commits are here): the next candidate on the same main takes its steps instead of merging them again. */
  stack: BuiltStack | null;
}

const pairKey = (ours: string, theirs: string) => `${ours} ${theirs}`;

/** What one engine keeps between candidates (see the file comment). */
export class Tenure {
  readonly config: EngineOptions['config'];
  readonly logger: Logger;
  readonly names: CatFileBatch;
  readonly graph: CommitGraph;
  readonly scratch: ScratchRepository;
  private readonly abort = new AbortController();
  private readonly settings: GitSettings;
  private readonly canonicalObjects: string;
  private version: Promise<string> | null = null;
  private objects: { t: TemporaryObjects; w: Workspace; uses: number; inUse: number } | null = null;
  /** git ≥ 2.49: merge-tree --stdin answers line by line, so one process serves many merges. */
  private longLivedMerges = false;
  private warmMerge: { key: string; merges: MergeTrees } | null = null;
  /** Where merge-tree runs: a temporary directory of the tool's own, never the canonical worktree (src/git/attributes.ts). */
  private mergeDir: { t: TemporaryObjects; d: MergeDirectory } | null = null;
  private evaluations = 0;
  /** Commits read by id (objects never change): the stack's commits are as old as their newest parent. */
  private readonly nodes = new Map<string, CommitNode>();
  /** Decisions since the stack last grew (base: queue): how far merging ahead pays. */
  private blocksInARow = 0;
  /** Whether this tenure looked for the stack a previous one kept. */
  private keptTaken = false;
  /** Answers of isAncestor by (ancestor, descendant), and of mergeBase. */
  private readonly ancestry = new Map<string, boolean | string | null>();

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

  /** The canonical repository, reading through the tool's commit-graph when there is one (and a workspace's commits). */
  repo(w: Workspace | null = null): GitHandle {
    const graph = this.graph.alternates();
    return w ? this.git(this.opts.repoDir, { objectDir: w.dir, alternates: [this.canonicalObjects, ...graph] }) : this.git(this.opts.repoDir, { alternates: graph });
  }

  /** The merge base of `a` and `b` (null: none), found in this process when it can be, else by git; kept, as commits never change. */
  async mergeBase(a: string, b: string, w: Workspace | null = null): Promise<string | null> {
    const key = `${a} ${b} base`;
    const known = this.ancestry.get(key);
    if (known !== undefined && typeof known !== 'boolean') return known;
    const bases = await this.bestCommonAncestors(a, b, w);
    const answer = bases !== null && bases.length <= 1 ? (bases[0] ?? null) : await mergeBase(this.repo(w), a, b);
    this.remember(key, answer);
    return answer;
  }

  /**
   * Whether `ancestor` is reachable from `descendant`, found in this process when it can be, else by
   * git; kept (commits never change), so the stack's entries are walked once per main, not per candidate.
   */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const key = pairKey(ancestor, descendant);
    const known = this.ancestry.get(key);
    if (typeof known === 'boolean') return known;
    const bases = await this.bestCommonAncestors(ancestor, descendant, null);
    const answer = bases !== null && bases.length <= 1 ? bases[0] === ancestor : await isAncestor(this.repo(), ancestor, descendant);
    this.remember(key, answer);
    return answer;
  }

  private remember(key: string, answer: boolean | string | null): void {
    if (this.ancestry.size >= MAX_RESULTS) this.ancestry.clear();
    this.ancestry.set(key, answer);
  }

  private async bestCommonAncestors(a: string, b: string, w: Workspace | null): Promise<string[] | null> {
    const index = this.graph.index();
    if (!index) return null;
    // The commits the tool wrote are not in the repository: their parents and times are known here,
    // as are the stack's entries (read once): walking the stack costs no request per entry.
    const read = async (oids: readonly string[]) => {
      const nodes = oids.map((oid) => w?.commits.get(oid) ?? this.nodes.get(oid) ?? null);
      const missing = oids.filter((_, i) => nodes[i] === null);
      const found = missing.length > 0 ? await this.names.commits(missing) : [];
      return nodes.map((n) => n ?? found.shift() ?? null);
    };
    return bestCommonAncestors(a, b, index, read);
  }

  /** Commit times (seconds) of commits of the repository; each commit read once and kept (with its parents). */
  async commitTimes(oids: readonly string[]): Promise<number[]> {
    const missing = [...new Set(oids.filter((o) => !this.nodes.has(o)))];
    if (missing.length > 0) {
      const nodes = await this.names.commits(missing);
      if (this.nodes.size + missing.length > MAX_RESULTS) this.nodes.clear();
      // A commit that could not be read is not kept: a node without parents would end ancestry walks there.
      missing.forEach((oid, i) => {
        const node = nodes[i];
        if (node) this.nodes.set(oid, node);
      });
    }
    return oids.map((o) => this.nodes.get(o)?.date ?? 0);
  }

  now(): Date {
    return this.opts.now();
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
      const asked = gitVersion(this.repo(), { file: join(this.opts.stateDir, 'cache', 'git-version.json'), logger: this.opts.logger });
      this.version = asked.then((v) => {
        this.longLivedMerges = versionAtLeast(v, 2, 49);
        return v;
      });
      this.version.catch(() => (this.version = null));
    }
    return this.version;
  }

  /** The workspace for one evaluation; `release` when the evaluation is done with it. */
  acquireObjects(): { w: Workspace; release(): void } {
    const o = this.objects;
    if (o && o.uses >= OBJECTS_RECYCLE_AFTER && o.inUse === 0) {
      if (o.w.stack === null || objectDirBytes(o.w.dir) > STACK_OBJECTS_MAX_BYTES) this.retireObjects();
      else o.uses = 0;
    }
    if (!this.objects) {
      // The first workspace of a tenure takes the stack the previous one kept (stack-cache.ts).
      const kept = this.keptTaken ? null : takeKeptStack(this.opts.stateDir, this.logger);
      this.keptTaken = true;
      const t = kept?.objects ?? createTemporaryObjects(this.opts.stateDir);
      this.objects = { t, w: { dir: t.dir, results: new Map(), commits: kept?.commits ?? new Map<string, CommitNode>(), stack: kept?.stack ?? null }, uses: 0, inUse: 0 };
    }
    const current = this.objects;
    current.uses++;
    current.inUse++;
    return { w: current.w, release: () => void current.inUse-- };
  }

  /**
   * The merges of `pairs` (ours, theirs), each made once per workspace: a result already known is not
   * merged again, the others in one batch. `ahead` are merged in the same batch onto the first pair's
   * base, for the candidates that come next (see the file comment).
   */
  async merges(w: Workspace, main: string, pairs: readonly MergePair[], ahead: readonly string[] = []): Promise<MergeResult[]> {
    const todo = new Map<string, MergePair>();
    for (const [ours, theirs] of pairs) if (!w.results.has(pairKey(ours, theirs))) todo.set(pairKey(ours, theirs), [ours, theirs]);
    const base = pairs[0]?.[0];
    if (base !== undefined && todo.size > 0) {
      for (const theirs of ahead) {
        const key = pairKey(base, theirs);
        if (!w.results.has(key)) todo.set(key, [base, theirs]);
      }
    }
    if (todo.size > 0) {
      if (w.results.size + todo.size > MAX_RESULTS) w.results.clear();
      const batch = [...todo.values()];
      const outcomes = await this.mergeBatch(w, main, batch);
      batch.forEach(([ours, theirs], i) => {
        const o = outcomes[i];
        if (o?.ok) w.results.set(pairKey(ours, theirs), o.result);
      });
      // Only what was asked for fails the call; a candidate merged ahead is merged again at its turn.
      for (const [ours, theirs] of pairs) {
        const o = outcomes[batch.findIndex(([a, b]) => a === ours && b === theirs)];
        if (o && !o.ok) throw o.error;
      }
    }
    return pairs.map(([ours, theirs]) => {
      const r = w.results.get(pairKey(ours, theirs));
      if (!r) throw errors.internal('merging', new Error(`no merge result for ${pairKey(ours, theirs)}`));
      return r;
    });
  }

  /** How many of the next candidates to merge ahead: all of them with base: tip; with base: queue, more after each block. */
  aheadWidth(base: 'queue' | 'tip'): number {
    return base === 'tip' ? MAX_AHEAD : Math.min(MAX_AHEAD, 2 ** this.blocksInARow - 1);
  }

  /** With base: queue, a would_integrate grows the stack: what was merged ahead onto the old one is of no use any more. */
  noteDecision(outcome: Evaluation['outcome']): void {
    this.blocksInARow = outcome === 'would_integrate' ? 0 : this.blocksInARow + 1;
  }

  /**
   * merge-tree (a batch through one process), or with the worktree engine a real merge each in the
   * scratch repository — which starts from main and goes back to it, its index never left on a commit
   * of the workspace, which goes away.
   */
  private async mergeBatch(w: Workspace, main: string, pairs: readonly MergePair[]): Promise<MergeOutcome[]> {
    if (this.config.engine === 'merge-tree') {
      const d = this.mergeDirectory();
      await d.prepare(this.names, main);
      let failed = true;
      try {
        const outcomes = await this.merger(w.dir, d.dir).merge(pairs);
        failed = outcomes.some((o) => !o.ok);
        return outcomes;
      } finally {
        // A merge killed or failed may have left its driver's files: they go before the next one.
        if (failed) d.restore();
      }
    }
    // One use of the scratch repository for the batch: each merge starts from a reset to its `ours`
    // (the first from main, where the use finds it), and the use puts it back on main once.
    return this.scratch.use(main, w.dir, async (s) => {
      const out: MergeOutcome[] = [];
      for (const [i, [ours, theirs]] of pairs.entries()) {
        if (i > 0 || ours !== main) await resetScratch(s, ours);
        out.push({ ok: true, result: await mergeInScratch(s, theirs) });
      }
      return out;
    });
  }

  private mergeDirectory(): MergeDirectory {
    if (!this.mergeDir) {
      const t = createTemporaryObjects(this.opts.stateDir);
      this.mergeDir = { t, d: new MergeDirectory(t.dir, resolve(this.opts.repoDir) !== resolve(this.opts.commonDir), { file: attributesCachePath(this.opts.stateDir), logger: this.logger }) };
    }
    return this.mergeDir.d;
  }

  /** On git ≥ 2.49 one long-lived merge-tree per object directory and alternates; before, a process per call. */
  private merger(objectDir: string, cwd: string): MergeTrees {
    const h = this.git(cwd, { gitDir: this.opts.commonDir, objectDir, alternates: [this.canonicalObjects, ...this.graph.alternates()] });
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

  /** Stops what runs; the workspace is kept for the next tenure when it holds a stack (and not too much else), else removed. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled([this.names.close(), this.warmMerge?.merges.close(), this.graph.settled()]);
    this.warmMerge = null;
    const o = this.objects;
    this.objects = null;
    // An evaluation still using it (close does not wait for it) may yet write into it: removed, not kept.
    if (o && o.inUse === 0) keepStack(this.opts.stateDir, o.t, o.w.stack, STACK_OBJECTS_MAX_BYTES, this.logger);
    else o?.t.remove();
    this.mergeDir?.t.remove();
    this.mergeDir = null;
  }
}

/** Longest message kept from git's conflict report: the ledger is one line per decision. */
const MESSAGE_LIMIT = 4096;

/** Failures that are a verdict about the candidate: git failed, timed out, or was refused its values. */
const GIT_FAILURES = new Set(['E_GIT_FAILED', 'E_GIT_TIMEOUT', 'E_GIT_REFUSED']);

async function evaluateCandidate(t: Tenure, c: Candidate, context: EvaluationContext): Promise<Evaluation> {
  const decided = await decide(t, c, context);
  t.noteDecision(decided.outcome);
  return decided;
}

async function decide(t: Tenure, c: Candidate, context: EvaluationContext): Promise<Evaluation> {
  const { remote, main_branch, engine, checks } = t.config;
  const stack = context.stack ?? [];
  const known: Pick<Evaluation, 'main_sha' | 'merge_base' | 'git_version' | 'ahead' | 'stack'> = { main_sha: null, merge_base: null, ahead: [] };
  const block = (reasons: ReasonCode[], message: string | undefined, conflicts: Conflict[] = [], collides?: CandidateRef[]): Evaluation => ({
    outcome: 'would_block',
    reasons,
    conflicts,
    main_sha: known.main_sha,
    merge_base: known.merge_base,
    merged_tree: null,
    ...(message ? { message } : {}),
    ...(known.git_version ? { git_version: known.git_version } : {}),
    engine,
    ahead: known.ahead,
    ...(collides ? { collides_with: collides } : {}),
    ...(known.stack ? { stack: known.stack } : {}),
  });
  try {
    known.git_version = await t.gitVersion();
    // Event values are validated before anything else: a bad one is refused (git_error), never passed on.
    const mainRef = remoteRef(remote, main_branch);
    const branchRef = remoteRef(remote, c.branch);
    const sha = assertSha(c.sha);
    const stackRefs = stack.map((e) => [remoteRef(remote, e.branch), `${assertSha(e.sha)}^{commit}`]).flat();
    const upcoming = (context.upcoming ?? []).filter((u) => u.sha !== sha && SHA.test(u.sha)).slice(0, t.aheadWidth(context.base ?? 'queue'));
    const gone = new Set<string>();
    if (t.config.fetch) {
      const { missing, gone: stackGone } = await fetchRemoteTracking(t.repo(), remote, [main_branch, c.branch], stack.map((e) => e.branch));
      for (const b of stackGone) gone.add(b);
      if (missing === c.branch && missing !== main_branch) return block(['sha_not_on_remote_branch'], `refs/heads/${c.branch} no longer exists on ${remote}`);
      if (missing !== null) return block(['git_error'], `refs/heads/${missing} does not exist on ${remote}: cannot evaluate against canonical main`);
    }

    // One request: main, the candidate's branch and commit, the stack's branches and commits, the next candidates' commits.
    const resolved = await t.names.resolve([mainRef, branchRef, `${sha}^{commit}`, ...stackRefs, ...upcoming.map((u) => `${u.sha}^{commit}`)]);
    const [mainSha, tip, commit] = resolved;
    // main's tree by main's id, not its name: main may move between two lookups.
    const [mainTree] = mainSha ? await t.names.resolve([`${mainSha}^{tree}`]) : [null];
    if (!mainSha || !mainTree) return block(['git_error'], `${mainRef} does not exist: cannot evaluate against canonical main`);
    known.main_sha = mainSha;
    // A sha this repository does not have is unknown state (not fetched yet?), not a verdict.
    if (commit !== sha) return block(['git_error'], `${sha} is not a commit in this repository (not fetched yet? fetch: true refreshes before each evaluation)`);
    // The branch ref gone means the sha is certainly not on it: the branch was deleted (or never fetched).
    if (!tip) return block(['sha_not_on_remote_branch'], `${branchRef} does not exist: the branch was deleted on ${remote}, or never fetched`);
    t.noteMain(mainSha);
    const tips = stack.map((e, i) => (gone.has(e.branch) || resolved[4 + 2 * i] !== e.sha ? null : (resolved[3 + 2 * i] ?? null)));
    // Merged ahead only when they are commits here: one bad line would fail the whole batch.
    const ahead = upcoming.filter((u, i) => resolved[3 + stackRefs.length + i] === u.sha).map((u) => u.sha);

    const objects = t.acquireObjects();
    const w = objects.w;
    try {
      const view: StackView = stack.length > 0 ? await stackOnto(t, w, { sha: mainSha, tree: mainTree }, stack, tips) : { mainTree, base: mainSha, tree: mainTree, ahead: [], left: [] };
      known.ahead = view.ahead.map((a) => ({ slug: a.entry.slug, branch: a.entry.branch, sha: a.entry.sha }));
      if (stack.length > 0) known.stack = { left: view.left, checked: { main_sha: mainSha, at: t.now().toISOString() } };
      // Ancestry, merge base and merge-tree need only the resolved shas: side by side (settled all, so
      // that none outlives the temporary object directory). The worktree engine's merge waits.
      const [onBranch, base, tried] = await Promise.allSettled([
        tip === sha ? true : t.isAncestor(sha, tip),
        t.mergeBase(view.base, sha, w),
        engine === 'merge-tree' ? t.merges(w, mainSha, [[view.base, sha]], ahead) : null,
      ]);
      if (onBranch.status === 'rejected') throw onBranch.reason;
      if (!onBranch.value) return block(['sha_not_on_remote_branch'], `${sha} is not reachable from ${branchRef} (${tip}): force-pushed since it was ready, or never pushed`);
      if (base.status === 'rejected') throw base.reason;
      known.merge_base = base.value;
      if (known.merge_base === sha) {
        if (view.base === mainSha || (await t.isAncestor(sha, mainSha))) return block(['already_integrated'], `${sha} is already an ancestor of ${mainRef}`);
        return block(['already_integrated'], `${sha} is already in the stack ahead of it (${describeAhead(view)}): an owner of main would have merged it with them`);
      }
      if (tried.status === 'rejected') throw tried.reason;
      const merged: MergeResult = tried.value?.[0] ?? (await t.merges(w, mainSha, [[view.base, sha]]))[0] as MergeResult;
      if (!merged.clean || !merged.tree) {
        const collides = view.ahead.length > 0 ? await collidingAhead(t, w, mainSha, view, sha, merged.conflicts) : undefined;
        return block(['merge_conflict'], merged.messages.join('\n').slice(0, MESSAGE_LIMIT), merged.conflicts, collides);
      }
      if (merged.tree === view.tree) {
        return view.base === mainSha
          ? block(['already_integrated'], `merging ${sha} leaves ${mainRef}'s tree unchanged: its change is already there (squash-merged or cherry-picked)`)
          : block(['already_integrated'], `merging ${sha} onto ${mainRef} and the stack ahead of it (${describeAhead(view)}) changes nothing: its change is already there`);
      }
      const tree = merged.tree;
      if (checks.length > 0) {
        const result = await t.scratch.use(mainSha, w.dir, async (s) => {
          await checkoutTreeInScratch(s, tree);
          return runChecks(checks, t.checksContext(w.dir, c));
        });
        if (!result.ok) return block(['checks_failed'], result.message);
      }
      return {
        outcome: 'would_integrate',
        reasons: [],
        conflicts: [],
        main_sha: mainSha,
        merge_base: known.merge_base,
        merged_tree: tree,
        git_version: known.git_version,
        engine,
        ahead: known.ahead,
        ...(known.stack ? { stack: known.stack } : {}),
      };
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

const describeAhead = (view: StackView) => view.ahead.map((a) => `${a.entry.slug} ${a.entry.branch}@${a.entry.sha.slice(0, 12)}`).join(', ');
