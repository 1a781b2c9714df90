/**
 * The scratch repository `<state_dir>/scratch/`: a repository of the tool's own — its own HEAD, refs,
 * index, config (hooks, gc, maintenance and rerere off) and object store — that reads the canonical
 * repository's objects through `objects/info/alternates`. It is not a worktree of the canonical
 * repository (`git worktree list` there does not show it), so whatever runs in it — a check that
 * commits, branches, tags, stashes or runs gc — writes only into it.
 *
 * Our own git calls there run with the evaluation's temporary object directory as the primary one, so
 * the merge's objects go there; the scratch's own store and the canonical one are alternates.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { errors } from '../contract/errors.js';
import { assertSha, SCRATCH_MARKER } from './guard.js';
import { isAlive } from './objects.js';
import { mergeOutputKind, type MergeResult } from './parse.js';
import { runGit, type GitHandle } from './runner.js';

/** Whether `dir` is a scratch repository this tool made (its git directory carries the marker). */
export function isScratchRepository(dir: string): boolean {
  try {
    return statSync(join(dir, '.git', SCRATCH_MARKER)).isFile();
  } catch {
    return false;
  }
}

const config = (sha256: boolean) =>
  [
    '[core]',
    `\trepositoryformatversion = ${sha256 ? 1 : 0}`,
    '\tbare = false',
    '\tlogAllRefUpdates = false',
    '\thooksPath = /dev/null',
    ...(sha256 ? ['[extensions]', '\tobjectFormat = sha256'] : []),
    '[gc]',
    '\tauto = 0',
    '[maintenance]',
    '\tauto = false',
    '[rerere]',
    '\tenabled = false',
    '[advice]',
    '\tdetachedHead = false',
    '',
  ].join('\n');

/**
 * What checks may have left in the scratch repository's git directory, said in a few words; null when
 * it holds exactly what the tool itself leaves there: HEAD (and ORIG_HEAD, a merge's state) on a
 * commit, the tool's config, the alternates naming the canonical store and nothing else, the marker,
 * an index, empty `refs/heads` and `refs/tags`, no object of its own — no other ref, tag, stash,
 * reflog, hook, lock, `info/` file or config of a check's. Read before the tool's own git runs there,
 * so that none of it ever runs with a check's config (a hooks path, an fsmonitor, a filter, a merge
 * driver, an include) or on a check's refs and objects. The mark of `handOverToChecks` left there
 * also counts: checks ran and were not seen to end with the index as they found it.
 */
export function scratchResidue(dir: string, commonDir: string, sha256: boolean): string | null {
  const git = join(dir, '.git');
  // 'dir', 'commit' (a line with an object id), 'file' (any content), or the exact content.
  const expected: Record<string, string> = {
    '': 'dir',
    HEAD: 'commit',
    ORIG_HEAD: 'commit',
    // The state of a merge of `engine: worktree`, which `reset --hard` ends.
    MERGE_HEAD: 'commit',
    MERGE_MSG: 'file',
    MERGE_MODE: 'file',
    AUTO_MERGE: 'commit',
    config: config(sha256),
    index: 'file',
    [SCRATCH_MARKER]: 'file',
    objects: 'dir',
    'objects/info': 'dir',
    'objects/info/alternates': `${resolve(commonDir, 'objects')}\n`,
    'objects/pack': 'dir',
    refs: 'dir',
    'refs/heads': 'dir',
    'refs/tags': 'dir',
  };
  const visit = (rel: string): string | null => {
    const path = join(git, rel);
    const want = expected[rel];
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return rel === '' ? 'no .git directory' : null;
    }
    const name = rel === '' ? '.git' : rel;
    if (want === undefined) return rel === CHECKS_RUNNING ? 'checks ran and changed its index, or did not finish' : `${name} is not the tool's`;
    if (want === 'dir') {
      if (!st.isDirectory()) return `${name} is not a directory`;
      for (const entry of readdirSync(path)) {
        const found = visit(rel === '' ? entry : `${rel}/${entry}`);
        if (found) return found;
      }
      return null;
    }
    if (!st.isFile()) return `${name} is not a regular file`;
    if (want === 'file') return null;
    const text = readFileSync(path, 'utf8');
    if (want === 'commit') return /^[0-9a-f]{40}(?:[0-9a-f]{24})?\n$/.test(text) ? null : `${name} is not on a commit`;
    return text === want ? null : `${name} was changed`;
  };
  return visit('');
}

/** Written into the scratch's git directory while checks run, removed once they are seen to have left its index as they found it. */
const CHECKS_RUNNING = 'shadow-integrator-checks-running';

/**
 * Marks the scratch repository `dir` as in the hands of checks (see `scratchResidue`); `done()`, once
 * they ended, lifts the mark when its index is byte for byte what they got. A check's index may carry
 * flags the tool's own `reset --hard` keeps (skip-worktree, assume-unchanged: a file left changed
 * under them), so a changed one means made again.
 */
export function handOverToChecks(dir: string): { done(): void } {
  const index = join(dir, '.git', 'index');
  const fingerprint = () => {
    try {
      return createHash('sha256').update(readFileSync(index)).digest('hex');
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'unreadable';
    }
  };
  const before = fingerprint();
  writeFileSync(join(dir, '.git', CHECKS_RUNNING), 'checks of shadow-integrator run here\n');
  return {
    done() {
      if (fingerprint() === before) rmSync(join(dir, '.git', CHECKS_RUNNING), { force: true });
    },
  };
}

/**
 * Makes `dir` a new scratch repository detached at `commit`, with nothing checked out yet: built
 * beside it and renamed into place, so a crash never leaves a half-made one. Whatever was at `dir`
 * must be gone (see `removeScratch`).
 */
export function createScratchRepository(dir: string, commonDir: string, commit: string): void {
  assertSha(commit);
  sweepUnfinished(dir);
  const tmp = `${dir}.tmp-${hostname()}-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const git = join(tmp, '.git');
  for (const sub of ['objects/info', 'refs/heads', 'refs/tags']) mkdirSync(join(git, sub), { recursive: true });
  writeFileSync(join(git, 'config'), config(commit.length === 64));
  writeFileSync(join(git, 'HEAD'), `${commit}\n`);
  writeFileSync(join(git, 'objects', 'info', 'alternates'), `${resolve(commonDir, 'objects')}\n`);
  writeFileSync(join(git, SCRATCH_MARKER), 'The scratch repository of shadow-integrator: checks and engine: worktree run here. It may be deleted at any time.\n');
  renameSync(tmp, dir);
}

/** Removes what a process that died while creating a scratch repository left beside it. */
function sweepUnfinished(dir: string): void {
  const prefix = `${basename(dir)}.tmp-${hostname()}-`;
  let names: string[];
  try {
    names = readdirSync(dirname(dir));
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(prefix) && !isAlive(Number(name.slice(prefix.length)))) rmSync(join(dirname(dir), name), { recursive: true, force: true });
  }
}

/**
 * Deletes `dir` if it is empty, a scratch repository of this tool (`ours`: known to be, even if a
 * check broke it), or a scratch worktree that an earlier version of this tool linked into the
 * canonical repository (then also its registration in `<commonDir>/worktrees/`, so that `git worktree
 * list` no longer shows it; returned). Anything else is someone's files: refused.
 */
export function removeScratch(dir: string, commonDir: string, opts: { ours: boolean }): { legacyWorktree: string | null } {
  if (!existsSync(dir)) return { legacyWorktree: null };
  const legacy = legacyWorktreeAdmin(dir, commonDir);
  if (!opts.ours && readdirSync(dir).length > 0 && !isScratchRepository(dir) && legacy === null) {
    throw errors.stateDirUnusable(dir, 'it is not empty and not a scratch repository of shadow-integrator; not deleting it (delete it yourself if it may go)');
  }
  rmSync(dir, { recursive: true, force: true });
  if (legacy !== null) rmSync(legacy, { recursive: true, force: true });
  return { legacyWorktree: legacy };
}

/** The admin directory (`<commonDir>/worktrees/<name>`) an old scratch worktree's `.git` file points to; null if `dir` is not one. */
function legacyWorktreeAdmin(dir: string, commonDir: string): string | null {
  try {
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(join(dir, '.git'), 'utf8'))?.[1];
    const admin = gitdir === undefined ? null : resolve(dir, gitdir);
    return admin !== null && admin.startsWith(join(resolve(commonDir), 'worktrees') + '/') ? admin : null;
  } catch {
    return null;
  }
}

/** HEAD, index and files on `commit`; any merge in progress, lock left by a crash and every untracked or ignored file gone. */
export async function resetScratch(h: GitHandle, commit: string): Promise<void> {
  if (h.scratch) rmSync(join(h.scratch, '.git', 'index.lock'), { force: true });
  await runGit(h, ['reset', '--hard', '--quiet', assertSha(commit)]);
  await runGit(h, ['clean', '-ffdxq']);
}

/** Index and files to `tree` (HEAD stays): what checks run on. */
export async function checkoutTreeInScratch(h: GitHandle, tree: string): Promise<void> {
  await runGit(h, ['read-tree', '--reset', '-u', '--end-of-options', assertSha(tree)]);
}

/**
 * A real `git merge --no-commit --no-ff` of `sha` onto HEAD. Conflicts are its unmerged index
 * entries, each with the kind of the merge's message that names it.
 */
export async function mergeInScratch(h: GitHandle, sha: string): Promise<MergeResult> {
  const args = ['merge', '--no-commit', '--no-ff', '--no-edit', '--end-of-options', assertSha(sha)];
  const { code, stdout, stderr } = await runGit(h, args, { ok: [0, 1] });
  if (code === 0) return { clean: true, tree: (await runGit(h, ['write-tree'])).stdout.trim(), conflicts: [], messages: [] };
  const unmerged = [...new Set((await runGit(h, ['ls-files', '-u', '-z'])).stdout.split('\0').map((entry) => entry.slice(entry.indexOf('\t') + 1)).filter(Boolean))];
  if (unmerged.length === 0) throw errors.gitFailed(args, code, stderr || stdout);
  const lines = stdout.split('\n').filter((l) => /^CONFLICT ?\(|^warning: Cannot merge binary files: /.test(l));
  return { clean: false, tree: null, conflicts: unmerged.map((path) => ({ path, kind: mergeOutputKind(lines, path) })), messages: lines };
}
