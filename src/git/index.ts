/**
 * The only code in src/ that runs git: a flat set of small read-only functions. Every call goes
 * through `run`, which refuses — before spawning — anything that could write a ref, push, commit or
 * take the canonical index lock, and runs git with optional locks off, hooks off, no prompts and an
 * environment scrubbed of GIT_DIR and friends (a hook's ambient environment must not redirect it).
 *
 * simple-git runs the calls; `patchIds` alone spawns git itself, because it must feed `git patch-id`
 * on stdin, which simple-git cannot do.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { errors } from '../contract/errors.js';
import type { Conflict } from '../contract/types.generated.js';
import { isValidBranchName } from '../contract/refname.js';

export interface GitHandle {
  /** Directory git runs in: the canonical repository, or the scratch worktree. */
  readonly cwd: string;
  /** The scratch worktree, where index and worktree writes are allowed (and nowhere else). */
  readonly scratch: string | null;
  readonly env: Record<string, string>;
  readonly git: SimpleGit;
}

/** Variables that would redirect git away from the repository we were asked about. */
export const SCRUBBED = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE', 'GIT_COMMON_DIR', 'GIT_PREFIX', 'GIT_CEILING_DIRECTORIES', 'GIT_QUARANTINE_PATH'];

export function openGit(cwd: string, opts: { scratch?: string | null; objects?: { dir: string; alternate: string } } = {}): GitHandle {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED.includes(k)) env[k] = v;
  Object.assign(env, { GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' });
  if (opts.objects) Object.assign(env, { GIT_OBJECT_DIRECTORY: opts.objects.dir, GIT_ALTERNATE_OBJECT_DIRECTORIES: opts.objects.alternate });
  const git = simpleGit({
    baseDir: cwd,
    config: ['core.hooksPath=/dev/null', 'gc.auto=0', 'maintenance.auto=false', 'advice.detachedHead=false'],
    unsafe: { allowUnsafeHooksPath: true },
  }).env(env);
  return { cwd: resolve(cwd), scratch: opts.scratch ? resolve(opts.scratch) : null, env, git };
}

/** Subcommands that only read, allowed anywhere. */
const READ_ONLY = new Set(['version', 'rev-parse', 'cat-file', 'merge-base', 'merge-tree', 'for-each-ref', 'log', 'rev-list', 'diff-tree', 'ls-tree']);
/** Subcommands that write an index or a worktree: allowed only inside the scratch worktree. */
const SCRATCH_ONLY = new Set(['read-tree', 'checkout-index', 'merge', 'reset', 'ls-files', 'write-tree', 'status', 'clean']);

/** Throws E_GIT_REFUSED unless `args` is an operation this tool may run from `h`. */
export function assertAllowed(h: GitHandle, args: readonly string[]): void {
  const sub = args[0] ?? '';
  const refuse = () => errors.gitRefused(args.join(' '));
  if (READ_ONLY.has(sub)) return;
  const inScratch = h.scratch !== null && h.cwd === h.scratch;
  if (SCRATCH_ONLY.has(sub)) {
    if (!inScratch) throw refuse();
    return;
  }
  if (sub === 'worktree') {
    const target = args.find((a, i) => i > 1 && !a.startsWith('-'));
    if (args[1] === 'prune' || (h.scratch && target && resolve(h.cwd, target) === h.scratch && ['add', 'remove'].includes(args[1] ?? ''))) return;
    throw refuse();
  }
  if (sub === 'config' && args[1] === '--get' && args.length === 3) return;
  if (sub === 'fetch') {
    // Only explicit refspecs into remote-tracking refs: never a local branch, never FETCH_HEAD.
    const refspecs = args.slice(1).filter((a) => !a.startsWith('-')).slice(1);
    if (args.includes('--no-write-fetch-head') && refspecs.length > 0 && refspecs.every((r) => /^\+?refs\/heads\/[^:]+:refs\/remotes\/[^:]+$/.test(r))) return;
    throw refuse();
  }
  throw refuse();
}

async function run(h: GitHandle, args: string[]): Promise<string> {
  assertAllowed(h, args);
  try {
    return await h.git.raw(args);
  } catch (e) {
    throw errors.gitFailed(args, null, (e as Error).message);
  }
}

const SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/** Values from events reach git only when they cannot be read as options or revision syntax. */
export function assertSha(sha: string): string {
  if (!SHA.test(sha)) throw errors.gitRefused(`object id ${JSON.stringify(sha)}`);
  return sha;
}

export function assertBranch(branch: string): string {
  if (!isValidBranchName(branch)) throw errors.gitRefused(`branch name ${JSON.stringify(branch)}`);
  return branch;
}

export const remoteRef = (remote: string, branch: string) => `refs/remotes/${remote}/${assertBranch(branch)}`;

let versionChecked: string | null = null;

/** `git version`, once per process; git < 2.38 has no merge-tree --write-tree. */
export async function gitVersion(h: GitHandle): Promise<string> {
  if (versionChecked) return versionChecked;
  const out = (await run(h, ['version'])).trim();
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(out);
  const version = m ? m[0] : out;
  if (!m || Number(m[1]) < 2 || (Number(m[1]) === 2 && Number(m[2]) < 38)) throw errors.gitTooOld(version);
  versionChecked = version;
  return version;
}

/**
 * Resolves revisions to object ids in one spawn; null for each one that does not exist. Only when
 * some are missing does it spend one more spawn per revision to tell which.
 */
export async function resolveRevisions(h: GitHandle, revs: readonly string[]): Promise<(string | null)[]> {
  for (const r of revs) if (r.startsWith('-')) throw errors.gitRefused(`revision ${JSON.stringify(r)}`);
  try {
    const out = (await run(h, ['rev-parse', ...revs])).trim().split('\n');
    if (out.length === revs.length && out.every((l) => SHA.test(l))) return out;
  } catch {
    // fall through: find which one is missing
  }
  return Promise.all(revs.map(async (r) => {
    try {
      const id = (await run(h, ['rev-parse', '--verify', '--quiet', r])).trim();
      return SHA.test(id) ? id : null;
    } catch {
      return null;
    }
  }));
}

/** The best common ancestor; null when there is none (git exits 1 and says nothing). */
export async function mergeBase(h: GitHandle, a: string, b: string): Promise<string | null> {
  const out = (await run(h, ['merge-base', '--end-of-options', assertSha(a), assertSha(b)])).trim();
  return SHA.test(out) ? out : null;
}

export const isAncestor = async (h: GitHandle, ancestor: string, of: string) => ancestor === of || (await mergeBase(h, ancestor, of)) === ancestor;

export interface MergeTreeResult {
  tree: string;
  clean: boolean;
  conflicts: Conflict[];
}

/**
 * `git merge-tree --write-tree` of `theirs` into `ours`, with the objects it writes going to a
 * temporary object directory (the repository's store stays an alternate, read only). The caller
 * owns `objects` and removes it when done (checks may still need the merged tree).
 */
export async function mergeTree(h: GitHandle, ours: string, theirs: string): Promise<MergeTreeResult> {
  const out = await run(h, ['merge-tree', '--write-tree', '-z', '--messages', '--name-only', '--end-of-options', assertSha(ours), assertSha(theirs)]);
  return parseMergeTree(out);
}

/**
 * Parses `-z --messages --name-only` output: `<tree>\0` then conflicted paths each `\0`-terminated,
 * an empty field, then messages `<N>\0<path>×N<type>\0<text>\0`. Kinds come from the message text
 * ("CONFLICT (add/add): …"), which is more specific than the type field in git 2.39.
 */
export function parseMergeTree(out: string): MergeTreeResult {
  const fields = out.split('\0');
  const tree = fields[0] ?? '';
  if (!SHA.test(tree)) throw errors.gitFailed(['merge-tree'], 1, `unexpected output: ${out.slice(0, 200)}`);
  let i = 1;
  const conflictedPaths: string[] = [];
  while (i < fields.length && fields[i] !== '') conflictedPaths.push(fields[i++] as string);
  i++;
  // One path can be named by several messages ("binary" and "contents"): keep the most specific kind.
  const kinds = new Map<string, string>();
  while (i < fields.length) {
    const n = Number(fields[i]);
    if (!Number.isInteger(n) || n < 1) break;
    const paths = fields.slice(i + 1, i + 1 + n);
    const kind = conflictKind(fields[i + 1 + n] ?? '', fields[i + 2 + n] ?? '');
    i += 3 + n;
    if (!kind) continue;
    for (const path of paths) if (!kinds.has(path) || kinds.get(path) === 'contents') kinds.set(path, kind);
  }
  for (const path of conflictedPaths) if (!kinds.has(path)) kinds.set(path, 'contents');
  const conflicts: Conflict[] = [...kinds].map(([path, kind]) => ({ path, kind }));
  return { tree, clean: conflictedPaths.length === 0 && conflicts.length === 0, conflicts };
}

/**
 * The kind of a merge message, or null when it is informational. git 2.39 labels add/add as
 * "contents" in the type field but says "CONFLICT (add/add)" in the text; binary is the reverse.
 */
export function conflictKind(type: string, text: string): string | null {
  const fromType = /^CONFLICT \(([^)]+)\)/.exec(type)?.[1];
  if (!fromType) return null;
  const fromText = /^CONFLICT \(([^)]+)\)/.exec(text)?.[1];
  const kind = fromType !== 'contents' ? fromType : (fromText ?? fromType);
  return kind === 'content' ? 'contents' : kind;
}

/** A temporary object directory for one evaluation, with the repository's store as its alternate. */
export function temporaryObjects(commonDir: string): { dir: string; alternate: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'shadow-integrator-objects-'));
  return { dir, alternate: join(commonDir, 'objects'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Refreshes remote-tracking refs of the given branches only; never a local branch. */
export async function fetchRemoteTracking(h: GitHandle, remote: string, branches: readonly string[]): Promise<void> {
  const refspecs = branches.map((b) => `+refs/heads/${assertBranch(b)}:refs/remotes/${remote}/${b}`);
  await run(h, ['fetch', '--no-write-fetch-head', '--no-tags', '--quiet', '--end-of-options', remote, ...refspecs]);
}

/**
 * One config value (`git config --get`), or null when unset. Runs without our own `-c` overrides,
 * which `config --get` would otherwise report (core.hooksPath=/dev/null).
 */
export async function configGet(h: GitHandle, key: string): Promise<string | null> {
  const args = ['config', '--get', key];
  if (!/^[A-Za-z][\w.-]*$/.test(key)) throw errors.gitRefused(`config key ${JSON.stringify(key)}`);
  assertAllowed(h, args);
  try {
    const out = (await simpleGit({ baseDir: h.cwd }).env(h.env).raw(args)).trim();
    return out === '' ? null : out;
  } catch {
    return null;
  }
}

export interface CommitInfo {
  sha: string;
  parents: string[];
  tree: string;
  subject: string;
  body: string;
  committedAt: string;
}

/** Commits reachable from `ref`, newest first, in one spawn. */
export async function listCommits(h: GitHandle, ref: string, opts: { since?: string } = {}): Promise<CommitInfo[]> {
  if (ref.startsWith('-')) throw errors.gitRefused(`revision ${JSON.stringify(ref)}`);
  const args = ['log', '-z', '--format=%H%x1f%P%x1f%T%x1f%cI%x1f%s%x1f%b', ...(opts.since ? [`--since=${opts.since}`] : []), ref, '--'];
  const out = await run(h, args);
  return out
    .split('\0')
    .filter(Boolean)
    .map((rec) => {
      const [sha = '', parents = '', tree = '', committedAt = '', subject = '', body = ''] = rec.replace(/^\n/, '').split('\x1f');
      return { sha, parents: parents ? parents.split(' ') : [], tree, committedAt, subject, body };
    });
}

/** One diff for `diffPatchIds`: the change from `from` (default: `to`'s first parent) to `to`. */
export interface DiffSpec {
  to: string;
  from?: string;
}

/**
 * `git patch-id --stable` of each commit's diff against its first parent: two spawns for all the
 * commits together (`diff-tree --stdin -p` piped into `patch-id`), never one per commit.
 */
export const patchIds = (h: GitHandle, commits: readonly string[]): Promise<Map<string, string>> => diffPatchIds(h, commits.map((to) => ({ to })));

/**
 * Patch ids of explicit diffs, keyed by `to` (so a `to` appears once per call), in the same two spawns
 * for all of them. With `reverse`, the id of each inverse change: what a commit reverting it carries.
 * An object missing from the repository yields no id (diff-tree --stdin passes over it).
 */
export async function diffPatchIds(h: GitHandle, diffs: readonly DiffSpec[], opts: { reverse?: boolean } = {}): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  if (diffs.length === 0) return ids;
  const lines = diffs.map((d) => (d.from ? `${assertSha(d.to)} ${assertSha(d.from)}` : assertSha(d.to)));
  const diff = await spawnGit(h, ['diff-tree', '--stdin', '-p', '--no-color', '--root', ...(opts.reverse ? ['-R'] : [])], `${lines.join('\n')}\n`);
  const out = await spawnGit(h, ['patch-id', '--stable'], diff);
  for (const line of out.split('\n')) {
    const [patchId, commit] = line.split(' ');
    if (patchId && commit) ids.set(commit, patchId);
  }
  return ids;
}

function spawnGit(h: GitHandle, args: string[], stdin: string): Promise<string> {
  if (args[0] !== 'patch-id') assertAllowed(h, args);
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', ['-c', 'core.hooksPath=/dev/null', ...args], { cwd: h.cwd, env: h.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(Buffer.concat(out).toString('utf8')) : reject(errors.gitFailed(args, code, err))));
    child.stdin.end(stdin);
  });
}

/** Scratch worktree operations: `h` must be the canonical repository handle with `scratch` set. */
export async function addScratchWorktree(h: GitHandle, commit: string): Promise<void> {
  if (!h.scratch) throw errors.gitRefused('worktree add without a scratch path');
  await run(h, ['worktree', 'add', '--detach', '--no-checkout', '--force', h.scratch, assertSha(commit)]);
}

export async function pruneWorktrees(h: GitHandle): Promise<void> {
  await run(h, ['worktree', 'prune']);
}

/** Runs an index/worktree operation inside the scratch worktree (refused anywhere else). */
export const inScratch = (scratch: GitHandle, args: string[]): Promise<string> => run(scratch, args);
