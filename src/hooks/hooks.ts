/**
 * `hooks install | uninstall`: readiness flows without anyone remembering.
 *
 * - In the working repository: `post-commit` and `reference-transaction` (on "committed", so after
 *   a push updates refs/remotes, a fetch, a merge…) start `drain` in the background.
 * - In a bare origin (`--origin PATH`): `post-receive` emits one `branch_pushed` per updated branch
 *   into the working repository's state directory, then starts `drain` there, in the background.
 *
 * A hook never fails or slows the user's git command: everything of ours runs detached, output to
 * `<state_dir>/hooks.log`, and the hook exits with the status of the hook it chains to. An existing
 * hook is kept as `<hook>.pre-shadow-integrator` and run first with the same arguments and stdin;
 * uninstall puts it back exactly. Installing twice changes nothing.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import { configGet, openGit } from '../git/index.js';
import { findRepo } from '../config/repo.js';
import { statePaths } from '../store/paths.js';

export const MARKER = '# shadow-integrator hook';
const CHAINED = '.pre-shadow-integrator';
const WORKING_HOOKS = ['post-commit', 'reference-transaction'] as const;

export interface HookChange {
  path: string;
  action: 'installed' | 'unchanged' | 'chained' | 'removed' | 'restored' | 'absent';
}

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Where a repository's hooks live: core.hooksPath when set (relative to the worktree top), else <git dir>/hooks. */
async function hooksDir(repoPath: string): Promise<string> {
  const layout = findRepo(repoPath);
  const configured = await configGet(openGit(layout.mainWorktree ?? layout.commonDir), 'core.hooksPath');
  if (configured) return isAbsolute(configured) ? configured : resolve(layout.mainWorktree ?? layout.commonDir, configured);
  return join(layout.commonDir, 'hooks');
}

function hookScript(body: string, readsStdin: boolean): string {
  return [
    '#!/bin/sh',
    `${MARKER} (installed by \`shadow-integrator hooks install\`; \`shadow-integrator hooks uninstall\` removes it)`,
    readsStdin ? 'input=$(cat)' : '',
    'status=0',
    `chained="$0${CHAINED}"`,
    readsStdin ? 'if [ -x "$chained" ]; then printf \'%s\\n\' "$input" | "$chained" "$@" || status=$?; fi' : 'if [ -x "$chained" ]; then "$chained" "$@" || status=$?; fi',
    '# Ours runs detached, with git\'s hook environment removed, so it can neither fail nor slow the git command.',
    `( unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_QUARANTINE_PATH GIT_PREFIX; ${body} ) </dev/null >/dev/null 2>&1 &`,
    'exit $status',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

function cliCall(ctxDir: string, stateDir: string, args: string): string {
  return `cd ${q(ctxDir)} && ${q(process.execPath)} ${q(CLI)} --state-dir ${q(stateDir)} ${args} >> ${q(join(stateDir, 'hooks.log'))} 2>&1`;
}

function workingHook(loaded: LoadedConfig, name: string): string {
  const top = loaded.repo.mainWorktree ?? loaded.repo.commonDir;
  const drain = cliCall(top, loaded.config.state_dir, 'drain');
  // reference-transaction runs for prepared, committed and aborted: only a committed one changed anything.
  return hookScript(name === 'reference-transaction' ? `[ "$1" = committed ] && ${drain}` : drain, name === 'reference-transaction');
}

function originHook(loaded: LoadedConfig): string {
  const top = loaded.repo.mainWorktree ?? loaded.repo.commonDir;
  const emit = cliCall(top, loaded.config.state_dir, `emit branch_pushed --branch "\${ref#refs/heads/}" --sha "$new" --remote ${q(loaded.config.remote)} --pusher "\${GL_USERNAME:-\${USER:-unknown}}"`);
  const body = [
    'printf \'%s\\n\' "$input" | while read -r old new ref; do',
    '  case "$ref" in refs/heads/*) ;; *) continue ;; esac',
    '  case "$new" in *[!0]*) ;; *) continue ;; esac',
    `  ${emit}`,
    'done',
    cliCall(top, loaded.config.state_dir, 'drain'),
  ].join('\n');
  return hookScript(body, true);
}

function install(path: string, script: string): HookChange {
  mkdirSync(join(path, '..'), { recursive: true });
  if (existsSync(path)) {
    const current = readFileSync(path, 'utf8');
    if (current === script) return { path, action: 'unchanged' };
    if (!current.includes(MARKER)) {
      if (existsSync(path + CHAINED)) throw errors.usage(`${path}${CHAINED} already exists; refusing to overwrite a kept hook`);
      renameSync(path, path + CHAINED);
      writeHook(path, script);
      return { path, action: 'chained' };
    }
  }
  writeHook(path, script);
  return { path, action: 'installed' };
}

function writeHook(path: string, script: string): void {
  writeFileSync(path, script);
  chmodSync(path, 0o755);
}

function uninstall(path: string): HookChange {
  if (!existsSync(path) || !readFileSync(path, 'utf8').includes(MARKER)) return { path, action: 'absent' };
  rmSync(path);
  if (existsSync(path + CHAINED)) {
    renameSync(path + CHAINED, path);
    return { path, action: 'restored' };
  }
  return { path, action: 'removed' };
}

export async function hooks(loaded: LoadedConfig, _ctx: Context, action: 'install' | 'uninstall', opts: { origin?: string | undefined } = {}): Promise<HookChange[]> {
  const top = loaded.repo.mainWorktree ?? loaded.repo.commonDir;
  const changes: HookChange[] = [];
  const dir = await hooksDir(top);
  for (const name of WORKING_HOOKS) changes.push(action === 'install' ? install(join(dir, name), workingHook(loaded, name)) : uninstall(join(dir, name)));
  if (opts.origin) {
    const originDir = await hooksDir(resolve(opts.origin));
    const path = join(originDir, 'post-receive');
    changes.push(action === 'install' ? install(path, originHook(loaded)) : uninstall(path));
  }
  if (action === 'install') mkdirSync(statePaths(loaded.config.state_dir).dir, { recursive: true });
  return changes;
}
