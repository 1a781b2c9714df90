/**
 * The repository read from the filesystem alone (no git spawn: hooks call us on every push, and an
 * ambient GIT_DIR from a hook must not redirect us): where it is — the main worktree, linked
 * worktrees (`.git` file → gitdir → commondir) and bare repositories — and what `init`, `config` and
 * `status` need to know of it: its remotes (the config file), the remote-tracking refs and their
 * HEADs (loose refs and packed-refs).
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { errors } from '../contract/errors.js';
import { SHA_PATTERN, type Warning } from '../contract/types.generated.js';

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
function worktreesOf(repo: RepoLayout): string[] {
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

/** Lines of git config text as (section, subsection, key, value): sections and keys lowercased, subsections as written. */
export interface GitConfigEntry {
  section: string;
  subsection: string | null;
  key: string;
  value: string;
}

/**
 * Parses git config text: `[section]`, `[section "subsection"]` and the old `[section.subsection]`,
 * a key without `=` is boolean true, as in git. Includes are not followed.
 */
function parseGitConfig(text: string): GitConfigEntry[] {
  const entries: GitConfigEntry[] = [];
  let section = '';
  let subsection: string | null = null;
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    const header = /^\[\s*([A-Za-z0-9.-]+)\s*(?:"((?:[^"\\]|\\.)*)")?\s*\]/.exec(line);
    if (header) {
      const name = header[1] as string;
      const dot = header[2] === undefined ? name.indexOf('.') : -1;
      section = (dot === -1 ? name : name.slice(0, dot)).toLowerCase();
      subsection = header[2] !== undefined ? header[2].replace(/\\(.)/g, '$1') : dot === -1 ? null : name.slice(dot + 1).toLowerCase();
      line = line.slice(header[0].length).trim(); // git allows a variable on the header's line
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(=(.*))?$/.exec(line);
    if (kv && section) entries.push({ section, subsection, key: (kv[1] as string).toLowerCase(), value: kv[2] === undefined ? 'true' : unquote(kv[3] as string) });
  }
  return entries;
}

/** The last value of `section.key` (no subsection) in git config text, as git reads it. */
export function configValue(text: string, section: string, key: string): string | undefined {
  return parseGitConfig(text).filter((e) => e.section === section && e.subsection === null && e.key === key).at(-1)?.value;
}

/** A config value: quotes removed, escapes applied, an unquoted `#` or `;` starts a comment. */
function unquote(raw: string): string {
  let out = '';
  let quoted = false;
  let pendingSpace = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (ch === '\\') {
      const next = raw[++i] ?? '';
      out += pendingSpace + ({ n: '\n', t: '\t', b: '\b' }[next] ?? next);
      pendingSpace = '';
    } else if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '#' || ch === ';')) break;
    else if (!quoted && /\s/.test(ch)) pendingSpace += out ? ch : '';
    else {
      out += pendingSpace + ch;
      pendingSpace = '';
    }
  }
  return out;
}

/** A repository file's text; empty when it cannot be read (a missing config, hook or ref file says nothing). */
export function readTextOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The remotes configured in the repository (`[remote "name"]` sections of its config file), in order. */
export function remotesOf(repo: RepoLayout): string[] {
  const names = parseGitConfig(readTextOrEmpty(join(repo.commonDir, 'config')))
    .filter((e) => e.section === 'remote' && e.subsection !== null)
    .map((e) => e.subsection as string);
  return [...new Set(names)];
}

/**
 * What a ref points at, read as git stores it: a loose file under the common dir (a sha, or
 * `ref: <target>` for a symbolic ref), else a line of packed-refs. `symref` is the target of a
 * symbolic ref; `sha` the object it resolves to, null when the ref (or its target) does not exist.
 */
export function readRef(repo: RepoLayout, ref: string, depth = 0): { sha: string | null; symref: string | null } {
  const loose = readTextOrEmpty(join(repo.commonDir, ...ref.split('/'))).trim();
  const target = /^ref:\s*(\S+)$/.exec(loose)?.[1];
  if (target) return { sha: depth < 5 ? readRef(repo, target, depth + 1).sha : null, symref: target };
  if (SHA_PATTERN.test(loose)) return { sha: loose, symref: null };
  return { sha: packedRefs(repo).get(ref) ?? null, symref: null };
}

/** packed-refs as ref → sha (peeled `^` lines and the header skipped). */
function packedRefs(repo: RepoLayout): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of readTextOrEmpty(join(repo.commonDir, 'packed-refs')).split('\n')) {
    const [sha, ref, extra] = line.split(' ');
    if (sha && ref && extra === undefined && SHA_PATTERN.test(sha)) refs.set(ref, sha);
  }
  return refs;
}

/** The branches of `remote` this repository has fetched (`refs/remotes/<remote>/*` but HEAD), sorted. */
export function remoteBranches(repo: RepoLayout, remote: string): string[] {
  const prefix = `refs/remotes/${remote}/`;
  const branches = new Set<string>();
  for (const ref of packedRefs(repo).keys()) if (ref.startsWith(prefix)) branches.add(ref.slice(prefix.length));
  const walk = (dir: string, under: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) walk(path, `${under}${name}/`);
      else branches.add(`${under}${name}`);
    }
  };
  walk(join(repo.commonDir, 'refs', 'remotes', remote), '');
  branches.delete('HEAD');
  return [...branches].sort();
}

/** The branch `refs/remotes/<remote>/HEAD` points at (the remote's default branch, as `git clone` records it), or null. */
export function remoteDefaultBranch(repo: RepoLayout, remote: string): string | null {
  const { symref } = readRef(repo, `refs/remotes/${remote}/HEAD`);
  const prefix = `refs/remotes/${remote}/`;
  return symref?.startsWith(prefix) ? symref.slice(prefix.length) : null;
}

/**
 * The warning `config` and `status` give when `refs/remotes/<remote>/<mainBranch>` does not exist:
 * every candidate would block with git_error until it does. Null when it exists.
 */
export function mainRefWarning(repo: RepoLayout, remote: string, mainBranch: string): Warning | null {
  const ref = `refs/remotes/${remote}/${mainBranch}`;
  if (readRef(repo, ref).sha !== null) return null;
  const remotes = remotesOf(repo);
  const fix = !remotes.includes(remote)
    ? `${remote} is not a remote of this repository (${remotes.length > 0 ? `its remotes: ${remotes.join(', ')}` : 'it has none'}): set remote in the config`
    : `fetch it (git fetch ${remote}), or set main_branch in the config (${remoteDefaultBranch(repo, remote) ? `${remote}'s default branch is ${remoteDefaultBranch(repo, remote) ?? ''}` : `branches of ${remote}: ${remoteBranches(repo, remote).slice(0, 10).join(', ') || 'none fetched'}`})`;
  return { code: 'main_ref_missing', message: `${ref} does not exist: every candidate would block with git_error; ${fix}` };
}
