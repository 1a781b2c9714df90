/** Questions about history: merge bases, ancestry, main's commits and their patch ids. */
import { assertRev, assertSha } from './guard.js';
import { collect, finished, runGit, startGit, type GitHandle } from './runner.js';

/** The best common ancestor; null when there is none (git exits 1 and says nothing). */
export async function mergeBase(h: GitHandle, a: string, b: string): Promise<string | null> {
  const { code, stdout } = await runGit(h, ['merge-base', '--end-of-options', assertSha(a), assertSha(b)], { ok: [0, 1] });
  return code === 0 ? stdout.trim() : null;
}

/** Whether `ancestor` is reachable from `descendant` (object ids or full ref names). */
export async function isAncestor(h: GitHandle, ancestor: string, descendant: string): Promise<boolean> {
  const { code } = await runGit(h, ['merge-base', '--is-ancestor', '--end-of-options', assertRev(ancestor), assertRev(descendant)], { ok: [0, 1] });
  return code === 0;
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
  const { stdout } = await runGit(h, ['log', '-z', `--format=%H${FIELD}%P${FIELD}%T${FIELD}%cI${FIELD}%s${FIELD}%b`, ...since, '--end-of-options', assertRev(ref), '--']);
  return stdout
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
  const diff = startGit(h, diffArgs, { bounded: true });
  const patchId = startGit(h, idArgs, { bounded: true });
  diff.stdout.pipe(patchId.stdin);
  diff.stdin.end(`${lines.join('\n')}\n`);
  const [out] = await Promise.all([collect(patchId.stdout), finished(h, diff, diffArgs), finished(h, patchId, idArgs)]);
  for (const line of out.toString('utf8').split('\n')) {
    const [id, commit] = line.split(' ');
    if (id && commit) ids.set(commit, id);
  }
  return ids;
}
