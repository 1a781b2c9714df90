/**
 * Where git looks for a repository's hooks: `core.hooksPath` when set, else `<git common dir>/hooks`.
 * Read from the config files, without running git (hooks call us on every commit and push, and the
 * git module runs git with hooks turned off, which would hide the setting).
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { RepoLayout } from '../config/repo.js';
import { errors } from '../contract/errors.js';

export interface HooksDir {
  dir: string;
  /** The config file that set core.hooksPath, or null for git's default. */
  setIn: string | null;
}

export function hooksDir(repo: RepoLayout, env: NodeJS.ProcessEnv): HooksDir {
  const local = join(repo.commonDir, 'config');
  // A relative hooksPath is relative to where hooks run: the top of the (main) worktree.
  const at = (value: string) => resolve(repo.mainWorktree ?? repo.commonDir, expandHome(value, env));
  const localValue = configValue(readText(local), 'core', 'hookspath');
  if (localValue !== undefined) return usable({ dir: at(localValue), setIn: local });
  for (const file of sharedConfigFiles(env).reverse()) {
    const value = configValue(readText(file), 'core', 'hookspath');
    if (value === undefined) continue;
    usable({ dir: at(value), setIn: file });
    // Installing there would run this repository's hooks for every repository on the machine.
    throw errors.hooksPathShared(file, value, local, join(repo.commonDir, 'hooks'));
  }
  return { dir: join(repo.commonDir, 'hooks'), setIn: null };
}

/**
 * A hooks path that exists must be a directory: `/dev/null` or a file there (common ways to turn
 * hooks off) leaves git running no hook at all, and nothing can be installed in it.
 */
function usable(found: HooksDir & { setIn: string }): HooksDir {
  let st;
  try {
    st = statSync(found.dir);
  } catch {
    return found; // absent (created at install) or unreachable (reported when written)
  }
  if (st.isDirectory()) return found;
  const what = found.dir === '/dev/null' ? 'is /dev/null' : st.isFile() ? 'is a file, not a directory' : 'is not a directory';
  throw errors.hooksPathUnusable(found.dir, found.setIn, what);
}

/** System and global config files, lowest precedence first, as git reads them. */
function sharedConfigFiles(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const system = env.GIT_CONFIG_NOSYSTEM ? [] : [env.GIT_CONFIG_SYSTEM ?? '/etc/gitconfig'];
  const global = env.GIT_CONFIG_GLOBAL !== undefined ? [env.GIT_CONFIG_GLOBAL] : [join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'git', 'config'), join(home, '.gitconfig')];
  return [...system, ...global];
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  return path === '~' || path.startsWith('~/') ? join(env.HOME ?? homedir(), path.slice(1)) : path;
}

/**
 * The last value of `section.key` in git config text (section and key case-insensitive; no
 * subsection; includes are not followed). A key without `=` is boolean true, as in git.
 */
export function configValue(text: string, section: string, key: string): string | undefined {
  let inSection = false;
  let value: string | undefined;
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    const header = /^\[\s*([A-Za-z0-9.-]+)\s*("(?:[^"\\]|\\.)*")?\s*\]/.exec(line);
    if (header) {
      inSection = header[2] === undefined && (header[1] as string).toLowerCase() === section;
      line = line.slice(header[0].length).trim(); // git allows a variable on the header's line
    }
    if (!inSection) continue;
    const kv = /^([A-Za-z][A-Za-z0-9-]*)\s*(=(.*))?$/.exec(line);
    if (kv && (kv[1] as string).toLowerCase() === key) value = kv[2] === undefined ? 'true' : unquote(kv[3] as string);
  }
  return value;
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
