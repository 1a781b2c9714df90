/** The one network operation: refreshing remote-tracking refs. */
import { errors } from '../contract/errors.js';
import { assertBranch, assertRemote } from './guard.js';
import { runGit, type GitHandle } from './runner.js';

/**
 * Refreshes the remote-tracking refs of `branches` only, with explicit refspecs (never a local
 * branch, never FETCH_HEAD), in one spawn. A branch gone from the remote is not an error: git stops
 * at the first missing one, returned as `missing`.
 */
export async function fetchRemoteTracking(h: GitHandle, remote: string, branches: readonly string[]): Promise<{ missing: string | null }> {
  const refspecs = [...new Set(branches)].map((b) => `+refs/heads/${assertBranch(b)}:refs/remotes/${assertRemote(remote)}/${b}`);
  const args = ['fetch', '--no-write-fetch-head', '--no-tags', '--no-recurse-submodules', '--quiet', '--end-of-options', remote, ...refspecs];
  const { code, stderr } = await runGit(h, args, { ok: [0, 128] });
  if (code === 0) return { missing: null };
  const missing = /couldn't find remote ref refs\/heads\/(\S+)/.exec(stderr)?.[1];
  if (missing === undefined) throw errors.gitFailed(args, code, stderr);
  return { missing };
}
