/**
 * What git may be asked to do, decided before anything is spawned: `assertAllowed` refuses whatever
 * could write a ref, push, commit, add objects to the repository's store or touch the canonical index
 * or worktree; the `assert*` functions refuse a value from an event that is not a full object id, a
 * valid branch name or a full ref name, so that none can ever be read as an option.
 *
 * Values that come from events reach git only validated, then on stdin or after `--end-of-options`.
 * git 2.39 honours it in merge-base, log, fetch, read-tree and merge; not in `reset` (its only
 * argument here is a validated object id), and in `rev-parse` only with --verify (which is why names
 * are resolved through cat-file's stdin).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../contract/errors.js';
import { isValidBranchName } from '../contract/refname.js';
import { SHA_PATTERN } from '../contract/types.generated.js';

export { isValidBranchName };

/** What the guard needs to know about a git call's handle. */
export interface GuardedHandle {
  readonly cwd: string;
  /** The scratch repository's top level, where index and worktree writes are allowed (and nowhere else). */
  readonly scratch: string | null;
  /** Where new objects go, when not the repository's own store; null: nothing that writes objects may run. */
  readonly objectDir: string | null;
}

/**
 * The file in the scratch repository's git directory that says it is the tool's own: only there do
 * index and worktree writes run, so a canonical repository can never be taken for it.
 */
export const SCRATCH_MARKER = 'shadow-integrator-scratch';

/** Subcommands that only read, allowed anywhere. */
const READ_ONLY = new Set(['version', 'rev-parse', 'cat-file', 'merge-base', 'merge-tree', 'for-each-ref', 'log', 'rev-list', 'diff-tree', 'patch-id']);
/** Subcommands that write an index or a worktree: allowed only with cwd = the scratch repository. */
const SCRATCH_ONLY = new Set(['read-tree', 'merge', 'reset', 'clean', 'ls-files', 'write-tree']);
/** Subcommands that write objects (or, for commit-graph, a file beside them): only into an object directory of the tool's own. */
const WRITES_OBJECTS = new Set(['merge-tree', 'merge', 'write-tree', 'commit-graph']);
/** Options that make a reading subcommand write a file or run a program. */
const DANGEROUS_OPTION = /^--(output|upload-pack|receive-pack|exec)(=|$)/;
const FETCH_FLAGS = new Set(['--no-write-fetch-head', '--no-tags', '--quiet', '--no-recurse-submodules']);
const COMMIT_GRAPH_FLAGS = new Set(['--reachable', '--split', '--split=replace', '--no-progress']);

/**
 * Subcommands git runs without starting any other program — no hook, merge driver, filter, transport
 * or credential helper can be involved — so killing the one process stops everything it did.
 */
const STARTS_NO_PROGRAM = new Set(['version', 'rev-parse', 'cat-file', 'merge-base', 'for-each-ref', 'log', 'rev-list', 'commit-graph']);

export const startsNoOtherProgram = (args: readonly string[]): boolean => STARTS_NO_PROGRAM.has(args[0] ?? '') && !args.some((a) => DANGEROUS_OPTION.test(a));

/** Throws E_GIT_REFUSED unless `args` is an operation this tool may run from `h`. */
export function assertAllowed(h: GuardedHandle, args: readonly string[]): void {
  const sub = args[0] ?? '';
  const allowed =
    !args.some((a) => DANGEROUS_OPTION.test(a)) &&
    (!WRITES_OBJECTS.has(sub) || h.objectDir !== null) &&
    (READ_ONLY.has(sub) ||
      (SCRATCH_ONLY.has(sub) && inScratchRepository(h)) ||
      (sub === 'fetch' && fetchAllowed(args)) ||
      (sub === 'commit-graph' && args[1] === 'write' && args.slice(2).every((a) => COMMIT_GRAPH_FLAGS.has(a))));
  if (!allowed) throw errors.gitRefused(args.join(' '));
}

/** cwd is the scratch repository, and its git directory carries the marker: never a repository of the user's. */
function inScratchRepository(h: GuardedHandle): boolean {
  if (h.scratch === null || h.cwd !== h.scratch) return false;
  try {
    return statSync(join(h.scratch, '.git')).isDirectory() && statSync(join(h.scratch, '.git', SCRATCH_MARKER)).isFile();
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

/** A full object id, as the schemas define it. */
export const SHA = SHA_PATTERN;

export function assertSha(sha: string): string {
  if (!SHA.test(sha)) throw errors.gitRefused(`object id ${JSON.stringify(sha)}`);
  return sha;
}

export function assertBranch(branch: string): string {
  if (!isValidBranchName(branch)) throw errors.gitRefused(`branch name ${JSON.stringify(branch)}`);
  return branch;
}

/** Remote names follow the branch name rules here (git's own are looser), so that one can never be a URL or an option. */
export function assertRemote(remote: string): string {
  if (!isValidBranchName(remote)) throw errors.gitRefused(`remote name ${JSON.stringify(remote)}`);
  return remote;
}

/** An object id, or a full ref name (`refs/…`). */
export function assertRev(rev: string): string {
  if (!SHA.test(rev) && !(rev.startsWith('refs/') && isValidBranchName(rev))) throw errors.gitRefused(`revision ${JSON.stringify(rev)}`);
  return rev;
}

export const remoteRef = (remote: string, branch: string) => `refs/remotes/${assertRemote(remote)}/${assertBranch(branch)}`;
