/**
 * Finds the repository around a directory from the filesystem alone (no git spawn: hooks call us on
 * every push, and an ambient GIT_DIR from a hook must not redirect us). Handles the main worktree,
 * linked worktrees (`.git` file → gitdir → commondir) and bare repositories.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
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
