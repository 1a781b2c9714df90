/**
 * Finds the repository around a directory from the filesystem alone (no git spawn: hooks call us on
 * every push, and an ambient GIT_DIR from a hook must not redirect us). Handles the main worktree,
 * linked worktrees (`.git` file → gitdir → commondir) and bare repositories.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { errors } from '../contract/errors.js';

export interface RepoLayout {
  /** Top level of the worktree we were called from (null in a bare repository). */
  worktree: string | null;
  /** Top level of the main worktree, where the config lives (null for a bare repository). */
  mainWorktree: string | null;
  /** The git common directory shared by every worktree. */
  commonDir: string;
}

export function findRepo(cwd: string): RepoLayout {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const dotGit = join(dir, '.git');
    if (existsSync(dotGit)) return layoutFromDotGit(dir, dotGit);
    if (isBareRepo(dir)) return { worktree: null, mainWorktree: null, commonDir: dir };
    if (dirname(dir) === dir) throw errors.notARepository(cwd, 'no .git found in it or any parent');
  }
}

function layoutFromDotGit(worktree: string, dotGit: string): RepoLayout {
  if (statSync(dotGit).isDirectory()) return { worktree, mainWorktree: worktree, commonDir: dotGit };
  const match = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'));
  if (!match?.[1]) throw errors.notARepository(worktree, `${dotGit} is not a gitdir file`);
  const gitDir = resolve(worktree, match[1].trim());
  const commonFile = join(gitDir, 'commondir');
  // No commondir: the git dir is this worktree's own (a submodule, or `git init --separate-git-dir`),
  // so this worktree is the main one.
  if (!existsSync(commonFile)) return { worktree, mainWorktree: worktree, commonDir: gitDir };
  const commonDir = resolve(gitDir, readFileSync(commonFile, 'utf8').trim());
  // A linked worktree: a non-bare common dir is <main worktree>/.git; a bare one has no main worktree.
  const mainWorktree = basename(commonDir) === '.git' ? dirname(commonDir) : null;
  return { worktree, mainWorktree, commonDir: isAbsolute(commonDir) ? commonDir : resolve(commonDir) };
}

function isBareRepo(dir: string): boolean {
  return existsSync(join(dir, 'HEAD')) && existsSync(join(dir, 'objects')) && existsSync(join(dir, 'refs'));
}

/** Every worktree of the repository: the main one and the linked ones registered in `<common dir>/worktrees/`. */
export function worktreesOf(repo: RepoLayout): string[] {
  const trees = new Set([repo.mainWorktree, repo.worktree].filter((w): w is string => w !== null));
  const admin = join(repo.commonDir, 'worktrees');
  let names: string[] = [];
  try {
    names = readdirSync(admin);
  } catch {
    return [...trees];
  }
  for (const name of names) {
    try {
      // `gitdir` holds the path of the linked worktree's `.git` file.
      trees.add(dirname(resolve(join(admin, name), readFileSync(join(admin, name, 'gitdir'), 'utf8').trim())));
    } catch {
      // A worktree being added or removed: nothing there to protect yet.
    }
  }
  return [...trees];
}

/** Parts of the git directory that git reads as its own: state files there would be taken for refs, objects or worktrees. */
const GIT_OWNED: Record<string, string> = {
  refs: 'git would read state files there as refs (and report them broken)',
  objects: 'git would read state files there as objects, and gc could delete them',
  logs: 'git would read state files there as reflogs',
  worktrees: "git keeps each worktree's administrative files there, and prune could delete them",
};

/**
 * Why `stateDir` must not hold this repository's state, or null when it may. Refused: inside the git
 * directory's refs/, objects/, logs/ or worktrees/, and inside any worktree (outside its git
 * directory), where state files would show up as changes in the canonical worktree. Compared as real
 * paths, so a symlink cannot hide either.
 */
export function stateDirProblem(stateDir: string, repo: RepoLayout): string | null {
  const dir = realPath(stateDir);
  const commonDir = realPath(repo.commonDir);
  const allowed = `allowed: a directory outside every worktree and outside the git directory's ${Object.keys(GIT_OWNED).map((d) => `${d}/`).join(', ')}, such as the default ${join(repo.commonDir, 'shadow-integrator')}`;
  for (const [sub, why] of Object.entries(GIT_OWNED)) {
    if (isInside(dir, join(commonDir, sub))) return `${stateDir} is inside ${join(repo.commonDir, sub)}: ${why}; ${allowed}`;
  }
  if (isInside(dir, commonDir)) return null;
  for (const tree of worktreesOf(repo)) {
    if (isInside(dir, realPath(tree))) {
      return `${stateDir} is inside the worktree ${tree}: state files would show up there as changes, and a check could reach them; ${allowed}`;
    }
  }
  return null;
}

const isInside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);

/** The real path of `path`, or of its deepest existing ancestor joined with the rest (it may not exist yet). */
function realPath(path: string): string {
  const rest: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    try {
      return join(realpathSync(p), ...rest.reverse());
    } catch {
      if (dirname(p) === p) return resolve(path);
      rest.push(basename(p));
    }
  }
}
