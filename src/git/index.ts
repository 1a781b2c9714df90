/**
 * The only code in src/ that runs git: a flat set of small read-only functions over a handle. Every
 * call goes through `assertAllowed` first, which refuses — before anything is spawned — whatever could
 * write a ref, push, commit, add objects to the repository's store or touch the canonical index or
 * worktree. Every call runs with optional locks, hooks, auto-gc and prompts off, in an environment
 * scrubbed of GIT_DIR and friends (a hook's ambient environment must not redirect it).
 *
 * simple-git runs the calls whose input is all in argv. Calls that read their input from stdin —
 * `cat-file --batch-check` (many names resolved in one spawn) and `diff-tree --stdin` piped into
 * `patch-id` — go through `spawnGit`, because simple-git cannot feed stdin; same guard, env and config.
 *
 * Values that come from events (branch names, shas) reach git only validated (full hex object ids;
 * branch names under check-ref-format rules, never starting with '-'), then on stdin or after
 * `--end-of-options`. git 2.39 honours it in merge-base, merge-tree, log, fetch, worktree add,
 * read-tree and merge; not in `reset` (its only argument here is a validated object id), and in
 * `rev-parse` only with --verify (which is why names are resolved through cat-file's stdin).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { GitError, simpleGit, type SimpleGit } from 'simple-git';
import { errors } from '../contract/errors.js';
import { SCRUBBED } from '../contract/git-environment.js';
import { isValidBranchName } from '../contract/refname.js';
import { SHA_PATTERN, type Conflict } from '../contract/types.generated.js';

export { isValidBranchName };

/** A temporary object directory with the repository's store as its (read-only) alternate. */
export interface ObjectDirectories {
  dir: string;
  alternate: string;
}

export interface GitHandle {
  /** Directory git runs in: the canonical repository, or the scratch worktree. */
  readonly cwd: string;
  /** The scratch worktree, where index and worktree writes are allowed (and nowhere else). */
  readonly scratch: string | null;
  /** Where new objects go; null: nothing that writes objects may run. */
  readonly objects: ObjectDirectories | null;
  readonly env: Record<string, string>;
  readonly git: SimpleGit;
}


/**
 * Variables only interactive git reads (editors, pagers, external diff, templates). simple-git refuses to
 * run at all while one is set, and EDITOR is in most shells and GIT_EDITOR in every post-commit hook: dropped.
 */
const INTERACTIVE_ONLY = ['EDITOR', 'GIT_EDITOR', 'GIT_SEQUENCE_EDITOR', 'PAGER', 'GIT_PAGER', 'GIT_EXTERNAL_DIFF', 'GIT_TEMPLATE_DIR'];

/**
 * What simple-git would otherwise refuse in the environment: settings git itself honours there (a
 * config file, the exec path every hook gets, ssh and askpass helpers for fetch). The environment is
 * the user's own, not input; our arguments never carry such settings.
 */
const USER_ENVIRONMENT = { allowUnsafeConfigPaths: true, allowUnsafeConfigEnvCount: true, allowUnsafeSshCommand: true, allowUnsafeAskPass: true, allowUnsafeGitProxy: true };

/**
 * `-c` settings of every call. rerere is off because a merge in the scratch worktree would otherwise
 * record its conflicts in the shared `rr-cache/` of the repository.
 */
const CONFIG = ['core.hooksPath=/dev/null', 'gc.auto=0', 'maintenance.auto=false', 'rerere.enabled=false', 'advice.detachedHead=false'];

/** The process environment without what redirects git or only matters to interactive git. */
function scrubbedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !SCRUBBED.includes(k) && !INTERACTIVE_ONLY.includes(k)) env[k] = v;
  return env;
}

/** A non-zero exit, kept whole: simple-git otherwise drops the exit code, which merge-base and merge-tree answer with. */
class GitExit extends GitError {
  constructor(
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(undefined, stderr || `exit ${exitCode}`);
  }
}

export function openGit(cwd: string, opts: { scratch?: string | null; objects?: ObjectDirectories | null } = {}): GitHandle {
  const env = { ...scrubbedEnv(), GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
  const objects = opts.objects ? { dir: opts.objects.dir, alternate: opts.objects.alternate } : null;
  if (objects) Object.assign(env, { GIT_OBJECT_DIRECTORY: objects.dir, GIT_ALTERNATE_OBJECT_DIRECTORIES: objects.alternate });
  const git = simpleGit({
    baseDir: cwd,
    config: CONFIG,
    unsafe: { allowUnsafeHooksPath: true, ...USER_ENVIRONMENT },
    errors: (error, result) =>
      result.exitCode > 0 ? new GitExit(result.exitCode, Buffer.concat(result.stdOut).toString('utf8'), Buffer.concat(result.stdErr).toString('utf8')) : error,
  }).env(env);
  return { cwd: resolve(cwd), scratch: opts.scratch ? resolve(opts.scratch) : null, objects, env, git };
}

/** Subcommands that only read, allowed anywhere. */
const READ_ONLY = new Set(['version', 'rev-parse', 'cat-file', 'merge-base', 'merge-tree', 'for-each-ref', 'log', 'rev-list', 'diff-tree', 'patch-id']);
/** Subcommands that write an index or a worktree: allowed only with cwd = the scratch worktree. */
const SCRATCH_ONLY = new Set(['read-tree', 'merge', 'reset', 'clean', 'ls-files', 'write-tree']);
/** Subcommands that write objects: allowed only with a temporary object directory. */
const WRITES_OBJECTS = new Set(['merge-tree', 'merge', 'write-tree']);
/** Options that make a reading subcommand write a file or run a program. */
const DANGEROUS_OPTION = /^--(output|upload-pack|receive-pack|exec)(=|$)/;
const FETCH_FLAGS = new Set(['--no-write-fetch-head', '--no-tags', '--quiet', '--no-recurse-submodules']);
const WORKTREE_ADD_FLAGS = new Set(['--detach', '--no-checkout', '--force', '--quiet']);

/** Throws E_GIT_REFUSED unless `args` is an operation this tool may run from `h`. */
export function assertAllowed(h: GitHandle, args: readonly string[]): void {
  const sub = args[0] ?? '';
  const allowed =
    !args.some((a) => DANGEROUS_OPTION.test(a)) &&
    (!WRITES_OBJECTS.has(sub) || h.objects !== null) &&
    (READ_ONLY.has(sub) || (SCRATCH_ONLY.has(sub) && inScratchWorktree(h)) || (sub === 'fetch' && fetchAllowed(args)) || (sub === 'worktree' && worktreeAddAllowed(h, args)));
  if (!allowed) throw errors.gitRefused(args.join(' '));
}

/** cwd is the scratch worktree, and that is a linked worktree (a `.git` file), never a main worktree. */
function inScratchWorktree(h: GitHandle): boolean {
  if (h.scratch === null || h.cwd !== h.scratch) return false;
  try {
    return statSync(join(h.scratch, '.git')).isFile();
  } catch {
    return false;
  }
}

/** `fetch <flags> --end-of-options <remote> +refs/heads/X:refs/remotes/<remote>/X…`: never a local branch, never FETCH_HEAD. */
function fetchAllowed(args: readonly string[]): boolean {
  const end = args.indexOf('--end-of-options');
  const [remote = '', ...refspecs] = args.slice(end + 1);
  const intoRemoteTracking = (refspec: string) => {
    const m = /^\+refs\/heads\/(.+):refs\/remotes\/(.+)$/.exec(refspec);
    return m !== null && isValidBranchName(m[1] as string) && m[2] === `${remote}/${m[1]}`;
  };
  const flags = args.slice(1, end);
  return end > 0 && flags.includes('--no-write-fetch-head') && flags.every((f) => FETCH_FLAGS.has(f)) && isValidBranchName(remote) && refspecs.length > 0 && refspecs.every(intoRemoteTracking);
}

/** `worktree add --detach … --end-of-options <the scratch path> <object id>`: never a branch, never elsewhere. */
function worktreeAddAllowed(h: GitHandle, args: readonly string[]): boolean {
  const end = args.indexOf('--end-of-options');
  const flags = args.slice(2, end);
  const [path, commit, ...rest] = args.slice(end + 1);
  return (
    args[1] === 'add' && end > 2 && flags.includes('--detach') && flags.every((f) => WORKTREE_ADD_FLAGS.has(f)) &&
    h.scratch !== null && path !== undefined && resolve(h.cwd, path) === h.scratch && SHA.test(commit ?? '') && rest.length === 0
  );
}

interface GitOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one allowed git call; exit codes other than `ok` are E_GIT_FAILED with git's message. */
async function run(h: GitHandle, args: string[], ok: readonly number[] = [0]): Promise<GitOutput> {
  assertAllowed(h, args);
  try {
    return { code: 0, stdout: await h.git.raw(args), stderr: '' };
  } catch (e) {
    if (e instanceof GitExit && ok.includes(e.exitCode)) return { code: e.exitCode, stdout: e.stdout, stderr: e.stderr };
    if (e instanceof GitExit) throw errors.gitFailed(args, e.exitCode, e.stderr || e.stdout);
    throw errors.gitFailed(args, null, (e as Error).message);
  }
}

const output = async (h: GitHandle, args: string[]): Promise<string> => (await run(h, args)).stdout;

/** Spawns an allowed git call fed on stdin (a string, or another git's output); see the file comment. */
function spawnGit(h: GitHandle, args: string[], input: string | Readable): ChildProcessByStdio<Writable, Readable, Readable> {
  assertAllowed(h, args);
  const child = spawn('git', [...CONFIG.flatMap((c) => ['-c', c]), ...args], { cwd: h.cwd, env: h.env, stdio: ['pipe', 'pipe', 'pipe'] });
  // git may exit before reading all its input (a bad object): its exit code says what happened, not EPIPE.
  child.stdin.on('error', () => undefined);
  if (typeof input === 'string') child.stdin.end(input);
  else input.pipe(child.stdin);
  return child;
}

/** Waits for a spawned git; its stdout (unless it is piped elsewhere), or E_GIT_FAILED. */
function finished(child: ChildProcessByStdio<Writable, Readable, Readable>, args: readonly string[], opts: { keepStdout: boolean }): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    if (opts.keepStdout) child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(errors.gitFailed(args, null, e.message)));
    child.on('close', (code) => (code === 0 ? resolvePromise(Buffer.concat(out).toString('utf8')) : reject(errors.gitFailed(args, code, Buffer.concat(err).toString('utf8')))));
  });
}

/** A full object id, as the schemas define it. */
const SHA = SHA_PATTERN;

export function assertSha(sha: string): string {
  if (!SHA.test(sha)) throw errors.gitRefused(`object id ${JSON.stringify(sha)}`);
  return sha;
}

function assertBranch(branch: string): string {
  if (!isValidBranchName(branch)) throw errors.gitRefused(`branch name ${JSON.stringify(branch)}`);
  return branch;
}

/** Remote names follow the branch name rules here (git's own are looser), so that one can never be a URL or an option. */
function assertRemote(remote: string): string {
  if (!isValidBranchName(remote)) throw errors.gitRefused(`remote name ${JSON.stringify(remote)}`);
  return remote;
}

/** An object id, or a full ref name (`refs/…`). */
function assertRev(rev: string): string {
  if (!SHA.test(rev) && !(rev.startsWith('refs/') && isValidBranchName(rev))) throw errors.gitRefused(`revision ${JSON.stringify(rev)}`);
  return rev;
}

export const remoteRef = (remote: string, branch: string) => `refs/remotes/${assertRemote(remote)}/${assertBranch(branch)}`;

let checkedVersion: string | null = null;

/** `git version`, spawned once per process; see `supportedVersion`. */
export async function gitVersion(h: GitHandle): Promise<string> {
  checkedVersion ??= supportedVersion(await output(h, ['version']));
  return checkedVersion;
}

/** The version in `git version`'s output; git < 2.38 has no merge-tree --write-tree: E_GIT_TOO_OLD. */
export function supportedVersion(text: string): string {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  const version = m ? m[0] : text.trim();
  if (!m || Number(m[1]) < 2 || (Number(m[1]) === 2 && Number(m[2]) < 38)) throw errors.gitTooOld(version);
  return version;
}

/**
 * Resolves revisions (`refs/…`, `<sha>^{commit}`, `<ref>^{tree}`…) to object ids in ONE spawn:
 * `cat-file --batch-check` answers "missing" per line instead of failing the whole call, and its
 * input is never parsed as options. Null for each one that does not exist.
 */
export async function resolveRevisions(h: GitHandle, revs: readonly string[]): Promise<(string | null)[]> {
  if (revs.length === 0) return [];
  for (const r of revs) if (r === '' || /[\r\n]/.test(r)) throw errors.gitRefused(`revision ${JSON.stringify(r)}`);
  const args = ['cat-file', '--batch-check=%(objectname)'];
  const lines = (await finished(spawnGit(h, args, revs.map((r) => `${r}\n`).join('')), args, { keepStdout: true })).split('\n');
  return revs.map((_, i) => (SHA.test(lines[i] ?? '') ? (lines[i] as string) : null));
}

/** The best common ancestor; null when there is none (git exits 1 and says nothing). */
export async function mergeBase(h: GitHandle, a: string, b: string): Promise<string | null> {
  const { code, stdout } = await run(h, ['merge-base', '--end-of-options', assertSha(a), assertSha(b)], [0, 1]);
  return code === 0 ? stdout.trim() : null;
}

/** Whether `ancestor` is reachable from `descendant` (object ids or full ref names), in one spawn. */
export async function isAncestor(h: GitHandle, ancestor: string, descendant: string): Promise<boolean> {
  const { code } = await run(h, ['merge-base', '--is-ancestor', '--end-of-options', assertRev(ancestor), assertRev(descendant)], [0, 1]);
  return code === 0;
}

export interface MergeResult {
  clean: boolean;
  /** The merged tree; null when the merge is not clean. */
  tree: string | null;
  conflicts: Conflict[];
  /** git's text of each conflict, in its order (`CONFLICT (content): Merge conflict in …`). */
  messages: string[];
}

/**
 * `git merge-tree --write-tree` of `theirs` into `ours`. Refused unless `h` has a temporary object
 * directory: the objects it writes go there, and the repository's store (its alternate) gains nothing.
 * Exit 1 is a conflict only when a tree id was printed (an unknown object also exits 1).
 */
export async function mergeTree(h: GitHandle, ours: string, theirs: string): Promise<MergeResult> {
  const args = ['merge-tree', '--write-tree', '-z', '--messages', '--name-only', '--end-of-options', assertSha(ours), assertSha(theirs)];
  const { code, stdout, stderr } = await run(h, args, [0, 1]);
  if (!SHA.test(stdout.slice(0, stdout.indexOf('\0')))) throw errors.gitFailed(args, code, stderr || 'no tree id in its output');
  return parseMergeTree(stdout, code);
}

/**
 * Parses `-z --messages --name-only` output: `<tree>\0`, the conflicted paths each `\0`-terminated,
 * an empty field, then messages `<N>\0<path>\0×N<type>\0<text>\0`. Conflicts are the conflicted paths
 * (what a real merge leaves unmerged in its index), each with the most specific kind any message gives it;
 * if git reports a conflict without conflicted paths, the paths its messages name.
 */
export function parseMergeTree(out: string, exitCode: number): MergeResult {
  const fields = out.split('\0');
  const tree = fields[0] ?? '';
  if (!SHA.test(tree)) throw errors.gitFailed(['merge-tree'], exitCode, `no tree id in its output: ${JSON.stringify(out.slice(0, 200))}`);
  let i = 1;
  const conflicted: string[] = [];
  while (i < fields.length && fields[i] !== '') conflicted.push(fields[i++] as string);
  i++;
  const kinds = new Map<string, string>();
  const messages: string[] = [];
  while (i < fields.length && /^[1-9]\d*$/.test(fields[i] as string)) {
    const n = Number(fields[i]);
    const paths = fields.slice(i + 1, i + 1 + n);
    const kind = conflictKind(fields[i + 1 + n] ?? '', fields[i + 2 + n] ?? '');
    if (kind) {
      messages.push((fields[i + 2 + n] ?? '').trim());
      for (const path of paths) if (!kinds.has(path) || kinds.get(path) === 'contents') kinds.set(path, kind);
    }
    i += n + 3;
  }
  const clean = exitCode === 0;
  const paths = conflicted.length > 0 || clean ? conflicted : [...kinds.keys()];
  return { clean, tree: clean ? tree : null, conflicts: paths.map((path) => ({ path, kind: kinds.get(path) ?? 'contents' })), messages };
}

/**
 * The kind of a merge-tree message from its type field, or null when it is informational
 * ("Auto-merging", "Path updated due to directory rename"…). Types are "CONFLICT (<kind>)", a few
 * without the space ("CONFLICT(directory rename collision)"), and "ERROR (<what>)". git 2.39 types
 * add/add as "contents" but names it in the text ("CONFLICT (add/add): …"): the text refines it.
 */
export function conflictKind(type: string, text: string): string | null {
  const kind = /^(?:CONFLICT|ERROR) ?\(([^)]+)\)/.exec(type)?.[1];
  if (kind !== 'contents') return kind ?? null;
  const fromText = /^CONFLICT \(([^)]+)\)/.exec(text)?.[1];
  return fromText && fromText !== 'content' ? fromText : 'contents';
}

/**
 * A temporary object directory for one evaluation, under os.tmpdir(), with the repository's store as
 * its alternate. The caller removes it once nothing needs the merged tree any more.
 */
export function temporaryObjects(commonDir: string): ObjectDirectories & { remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'shadow-integrator-objects-'));
  return { dir, alternate: join(resolve(commonDir), 'objects'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Refreshes the remote-tracking refs of `branches` only, with explicit refspecs (never a local
 * branch, never FETCH_HEAD), in one spawn. A branch gone from the remote is not an error: git stops
 * at the first missing one, returned as `missing`.
 */
export async function fetchRemoteTracking(h: GitHandle, remote: string, branches: readonly string[]): Promise<{ missing: string | null }> {
  const refspecs = [...new Set(branches)].map((b) => `+refs/heads/${assertBranch(b)}:refs/remotes/${assertRemote(remote)}/${b}`);
  const args = ['fetch', '--no-write-fetch-head', '--no-tags', '--no-recurse-submodules', '--quiet', '--end-of-options', remote, ...refspecs];
  const { code, stderr } = await run(h, args, [0, 128]);
  if (code === 0) return { missing: null };
  const missing = /couldn't find remote ref refs\/heads\/(\S+)/.exec(stderr)?.[1];
  if (missing === undefined) throw errors.gitFailed(args, code, stderr);
  return { missing };
}

export interface CommitInfo {
  sha: string;
  parents: string[];
  tree: string;
  subject: string;
  body: string;
  committedAt: string;
}

const FIELD = '\x1f';

/** Commits reachable from `ref` (an object id or a full ref name), newest first, in one spawn. */
export async function listCommits(h: GitHandle, ref: string, opts: { since?: string } = {}): Promise<CommitInfo[]> {
  const since = opts.since ? [`--since=${opts.since}`] : [];
  const out = await output(h, ['log', '-z', `--format=%H${FIELD}%P${FIELD}%T${FIELD}%cI${FIELD}%s${FIELD}%b`, ...since, '--end-of-options', assertRev(ref), '--']);
  return out
    .split('\0')
    .filter(Boolean)
    .map((record) => {
      const [sha = '', parents = '', tree = '', committedAt = '', subject = '', ...body] = record.split(FIELD);
      return { sha, parents: parents ? parents.split(' ') : [], tree, committedAt, subject, body: body.join(FIELD) };
    });
}

/** One diff for `diffPatchIds`: the change from `from` (default: `to`'s first parent) to `to`. */
export interface DiffSpec {
  to: string;
  from?: string;
}

/** `git patch-id --stable` of each commit's change against its first parent (merges have none); see `diffPatchIds`. */
export const patchIds = (h: GitHandle, commits: readonly string[]): Promise<Map<string, string>> => diffPatchIds(h, commits.map((to) => ({ to })));

/**
 * Patch ids of explicit diffs, keyed by `to` (so a `to` appears once per call), in two spawns for
 * all of them: `diff-tree --stdin -p` streamed into `patch-id --stable`, never buffered whole. With
 * `reverse`, the id of each inverse change: what a commit reverting it carries. An object missing
 * from the repository yields no id (diff-tree --stdin passes over it).
 */
export async function diffPatchIds(h: GitHandle, diffs: readonly DiffSpec[], opts: { reverse?: boolean } = {}): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  if (diffs.length === 0) return ids;
  const lines = diffs.map((d) => (d.from ? `${assertSha(d.to)} ${assertSha(d.from)}` : assertSha(d.to)));
  // -R also swaps the a/ b/ prefixes, which patch-id hashes: swapped back, an inverse diff reads like a revert's.
  const reverse = opts.reverse ? ['-R', '--src-prefix=b/', '--dst-prefix=a/'] : [];
  const diffArgs = ['diff-tree', '--stdin', '-p', '--no-color', '--root', ...reverse];
  const idArgs = ['patch-id', '--stable'];
  const diff = spawnGit(h, diffArgs, `${lines.join('\n')}\n`);
  const [, out] = await Promise.all([finished(diff, diffArgs, { keepStdout: false }), finished(spawnGit(h, idArgs, diff.stdout), idArgs, { keepStdout: true })]);
  for (const line of out.split('\n')) {
    const [patchId, commit] = line.split(' ');
    if (patchId && commit) ids.set(commit, patchId);
  }
  return ids;
}

/*
 * The scratch worktree. Adding it needs the repository's handle with `scratch` set; everything else
 * runs with cwd = the scratch worktree and the evaluation's temporary object directory.
 */

/** Adds the scratch worktree detached at `commit`, nothing checked out yet; --force reclaims a stale registration of the same path. */
export async function addScratchWorktree(h: GitHandle, commit: string): Promise<void> {
  if (!h.scratch) throw errors.gitRefused('worktree add without a scratch path');
  await run(h, ['worktree', 'add', '--detach', '--no-checkout', '--force', '--quiet', '--end-of-options', h.scratch, assertSha(commit)]);
}

/** HEAD, index and files of the scratch worktree on `commit`; any merge in progress and every untracked or ignored file gone. */
export async function resetScratch(h: GitHandle, commit: string): Promise<void> {
  await run(h, ['reset', '--hard', '--quiet', assertSha(commit)]);
  await run(h, ['clean', '-ffdxq']);
}

/** Index and files of the scratch worktree to `tree` (HEAD stays): what checks run on. */
export async function checkoutTreeInScratch(h: GitHandle, tree: string): Promise<void> {
  await run(h, ['read-tree', '--reset', '-u', '--end-of-options', assertSha(tree)]);
}

/**
 * A real `git merge --no-commit --no-ff` of `sha` onto the scratch worktree's HEAD. Conflicts are its
 * unmerged index entries, each with the kind of the merge's message that names it.
 */
export async function mergeInScratch(h: GitHandle, sha: string): Promise<MergeResult> {
  const args = ['merge', '--no-commit', '--no-ff', '--no-edit', '--end-of-options', assertSha(sha)];
  const { code, stdout, stderr } = await run(h, args, [0, 1]);
  if (code === 0) return { clean: true, tree: (await output(h, ['write-tree'])).trim(), conflicts: [], messages: [] };
  const unmerged = [...new Set((await output(h, ['ls-files', '-u', '-z'])).split('\0').map((entry) => entry.slice(entry.indexOf('\t') + 1)).filter(Boolean))];
  if (unmerged.length === 0) throw errors.gitFailed(args, code, stderr || stdout);
  const lines = stdout.split('\n').filter((l) => /^CONFLICT ?\(|^warning: Cannot merge binary files: /.test(l));
  return { clean: false, tree: null, conflicts: unmerged.map((path) => ({ path, kind: mergeOutputKind(lines, path) })), messages: lines };
}

/** The kind of the first merge message naming `path` as a whole word; binary wins over contents, as in merge-tree. */
export function mergeOutputKind(lines: readonly string[], path: string): string {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const names = new RegExp(`(^|\\s)${escaped}($|[\\s.,;:)])`);
  let kind: string | null = null;
  for (const line of lines.filter((l) => names.test(l))) {
    if (line.startsWith('warning: Cannot merge binary files: ')) return 'binary';
    const label = /^CONFLICT ?\(([^)]+)\)/.exec(line)?.[1];
    kind ??= label === 'content' ? 'contents' : (label ?? null);
  }
  return kind ?? 'contents';
}

/**
 * The admin directory (`<commonDir>/worktrees/<name>`) that `dir`'s `.git` file points to, whether or
 * not it still exists; null when `dir` is not a linked worktree of this repository. Such a directory is
 * the only kind the scratch code may delete.
 */
export function linkedWorktreeAdmin(dir: string, commonDir: string): string | null {
  try {
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(join(dir, '.git'), 'utf8'))?.[1];
    const admin = gitdir === undefined ? null : resolve(dir, gitdir);
    return admin !== null && admin.startsWith(join(resolve(commonDir), 'worktrees') + '/') ? admin : null;
  } catch {
    return null;
  }
}

/** Environment for commands run in the scratch worktree (checks): git there reads the evaluation's objects, and writes none of them into it. */
export function scratchCommandEnv(objects: ObjectDirectories): NodeJS.ProcessEnv {
  return { ...scrubbedEnv(), GIT_ALTERNATE_OBJECT_DIRECTORIES: objects.dir, GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' };
}
