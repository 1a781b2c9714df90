/**
 * What changed, by path: a topic's commits that main does not have (and the paths they touch), and
 * the paths two trees differ in. Each in one spawn, whatever the number of topics. Used by the
 * collision forecast to tell which of its answers still hold after main moved.
 */
import { assertSha } from './guard.js';
import { runGit, type GitHandle } from './runner.js';

/** A path and how a change left it: A added, D deleted, M modified, T type changed. */
export interface PathChange {
  status: string;
  path: string;
}

/** A commit main does not have: its parents and the paths it changes (against its first parent for a merge). */
export interface TopicCommit {
  parents: string[];
  changes: PathChange[];
}

/**
 * Every commit reachable from one of `tips` and not from `main`, with the paths it changes, in one
 * `git log`. Merges are diffed against their first parent; renames are a deletion and an addition.
 */
export async function commitsNotIn(h: GitHandle, tips: readonly string[], main: string): Promise<Map<string, TopicCommit>> {
  const commits = new Map<string, TopicCommit>();
  if (tips.length === 0) return commits;
  const input = `${[...tips.map(assertSha), `^${assertSha(main)}`].join('\n')}\n`;
  const { stdout } = await runGit(h, ['log', '--stdin', '--no-renames', '--diff-merges=first-parent', '--name-status', '-z', '--format=%x01%H %P'], { input });
  const out = Buffer.from(stdout, 'utf8');
  let at = 0;
  const field = (): string => {
    const nul = out.indexOf(0, at);
    const end = nul === -1 ? out.length : nul;
    const text = out.toString('utf8', at, end);
    at = end + 1;
    return text;
  };
  while (at < out.length) {
    if (out[at] !== 1) {
      at += 1; // the newline between a commit's header and its changes
      continue;
    }
    at += 1;
    const [sha = '', ...parents] = field().split(' ');
    const c: TopicCommit = { parents, changes: [] };
    commits.set(sha, c);
    if (out[at] === 10) at += 1;
    while (at < out.length && out[at] !== 1) {
      const status = field();
      if (status === '') continue;
      c.changes.push({ status: status.charAt(0), path: field() });
    }
  }
  return commits;
}

/** The paths tree (or commit) `a` and `b` differ in, recursively, in one `git diff-tree`. */
export async function treeChanges(h: GitHandle, a: string, b: string): Promise<PathChange[]> {
  const { stdout } = await runGit(h, ['diff-tree', '-r', '-z', '--no-renames', '--name-status', '--end-of-options', assertSha(a), assertSha(b)]);
  const parts = stdout.split('\0');
  const changes: PathChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const status = parts[i] as string;
    if (status === '') break;
    changes.push({ status: status.charAt(0), path: parts[i + 1] as string });
  }
  return changes;
}
