/** The one network operation: refreshing remote-tracking refs. */
import { errors } from '../contract/errors.js';
import { assertBranch, assertRemote } from './guard.js';
import { runGit, type GitHandle } from './runner.js';

/**
 * Refreshes the remote-tracking refs of `required` and `optional` branches only, with explicit
 * refspecs (never a local branch, never FETCH_HEAD). A branch gone from the remote is not an error:
 * git stops at the first missing one, so a gone optional branch (a stack entry's, deleted) is
 * dropped and the rest fetched again, one spawn more each; the first missing required one ends it,
 * returned as `missing`.
 */
export async function fetchRemoteTracking(h: GitHandle, remote: string, required: readonly string[], optional: readonly string[] = []): Promise<{ missing: string | null; gone: string[] }> {
  const gone: string[] = [];
  for (;;) {
    const missing = await fetchOnce(h, remote, [...required, ...optional.filter((b) => !gone.includes(b))]);
    if (missing === null || required.includes(missing)) return { missing, gone };
    gone.push(missing);
  }
}

/** One fetch of `branches`: the first one the remote lacks, or null. */
async function fetchOnce(h: GitHandle, remote: string, branches: readonly string[]): Promise<string | null> {
  const refspecs = [...new Set(branches)].map((b) => `+refs/heads/${assertBranch(b)}:refs/remotes/${assertRemote(remote)}/${b}`);
  const args = ['fetch', '--no-write-fetch-head', '--no-tags', '--no-recurse-submodules', '--quiet', '--end-of-options', remote, ...refspecs];
  const { code, stderr } = await runGit(h, args, { ok: [0, 128] });
  if (code === 0) return null;
  const missing = /couldn't find remote ref refs\/heads\/(\S+)/.exec(stderr)?.[1];
  if (missing === undefined) throw errors.gitFailed(args, code, stderr);
  return missing;
}
