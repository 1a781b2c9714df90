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
}

const FIELD = '\x1f';
const LOG_FORMAT = `--format=%H${FIELD}%P${FIELD}%T${FIELD}%s${FIELD}%b`;

/**
 * Walks the commits reachable from `tip` (an object id or a full ref name) and, with `exclude`, not
 * from that commit (`git log <exclude>..<tip>`), newest first, in one spawn. Each commit is handed to
 * `each` as git prints it and is not kept: a caller that needs a little of each commit of a long
 * history never holds the whole log (git.git's is 55 MB).
 */
export async function walkCommits(h: GitHandle, tip: string, each: (c: CommitInfo) => void, opts: { exclude?: string } = {}): Promise<void> {
  const args = ['log', '-z', LOG_FORMAT, '--end-of-options', assertRev(tip), ...(opts.exclude ? [`^${assertSha(opts.exclude)}`] : []), '--'];
  const p = startGit(h, args, { bounded: true });
  p.stdin.end();
  let pending: Buffer = Buffer.alloc(0);
  // The caller's own failure, if `each` threw: git is stopped, and it is reported once git has ended.
  const failed: Error[] = [];
  p.stdout.on('data', (d: Buffer) => {
    pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
    let start = 0;
    // Records end with NUL; a record split across chunks waits for its end (bytes, so no character is cut).
    for (let end = pending.indexOf(0, start); end !== -1; start = end + 1, end = pending.indexOf(0, start)) {
      if (failed.length === 0 && end > start) {
        try {
          each(commitOf(pending.toString('utf8', start, end)));
        } catch (e) {
          failed.push(e instanceof Error ? e : new Error(String(e)));
          p.kill('cancelled');
        }
      }
    }
    pending = pending.subarray(start);
  });
  const gitFailure = await finished(h, p, args).then(
    () => null,
    (e: Error) => e,
  );
  if (failed[0]) throw failed[0];
  if (gitFailure !== null) throw gitFailure;
  if (pending.length > 0) each(commitOf(pending.toString('utf8')));
}

function commitOf(record: string): CommitInfo {
  const [sha = '', parents = '', tree = '', subject = '', ...body] = record.split(FIELD);
  return { sha, parents: parents ? parents.split(' ') : [], tree, subject, body: body.join(FIELD) };
}

/** The parents of each of `commits` (object ids), in one spawn; a commit missing here has no entry. */
export async function commitParents(h: GitHandle, commits: readonly string[]): Promise<Map<string, string[]>> {
  const parents = new Map<string, string[]>();
  if (commits.length === 0) return parents;
  const input = commits.map((c) => `${assertSha(c)}\n`).join('');
  // --ignore-missing: a commit that is gone is no answer, not a failed call.
  const { stdout } = await runGit(h, ['rev-list', '--no-walk=unsorted', '--parents', '--ignore-missing', '--stdin'], { input });
  for (const line of stdout.split('\n')) {
    const [sha, ...of] = line.split(' ');
    if (sha) parents.set(sha, of);
  }
  return parents;
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
