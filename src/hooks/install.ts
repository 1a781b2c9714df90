/**
 * `hooks install | uninstall`. The working repository gets post-commit and post-merge hooks that
 * start a background drain, and a reference-transaction hook that records a branch_pushed event for
 * each remote-tracking branch a push (or a fetch) updates, then starts a drain; a bare origin, when
 * given, a post-receive hook that records a branch_pushed event per updated branch in the working
 * repository and starts a drain there.
 *
 * A hook already in place is never overwritten: it is renamed to `<hook>.pre-shadow-integrator` and
 * ours runs it with the same arguments, input and exit status. Installing again changes nothing
 * (or updates our own hook in place); uninstall renames the original back, byte for byte.
 */
import { lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { LoadedConfig } from '../config/config.js';
import { findRepo, type RepoLayout } from '../config/repo.js';
import { modeOff, openStateDir } from '../config/state.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { HookAction, HookChange, HooksReport } from '../contract/types.generated.js';
import { writeTextAtomic } from '../store/atomic-json.js';
import { hooksDir } from './hooks-dir.js';
import { CHAIN_SUFFIX, hookScript, MARKER, type HookName } from './scripts.js';

const WORKING_HOOKS: readonly HookName[] = ['post-commit', 'post-merge', 'reference-transaction'];
const ORIGIN_HOOKS: readonly HookName[] = ['post-receive'];

export type { HooksReport };

export interface InstallOptions {
  /** Path of a bare origin repository to give a post-receive hook. */
  origin?: string | undefined;
  /** How the hooks start the CLI: the node binary and the CLI's bin, both absolute, and its version. */
  cli: { node: string; main: string; version: string };
  /** A config file given explicitly (--config), passed on to every run; else the CLI finds it. */
  configPath?: string | undefined;
}

export function installHooks(loaded: LoadedConfig, ctx: Context, opts: InstallOptions): HooksReport {
  const targets = managedHooks(loaded, ctx, opts.origin);
  const paths = openStateDir(loaded);
  const values = {
    node: opts.cli.node,
    cli: opts.cli.main,
    version: opts.cli.version,
    repo: loaded.repo.mainWorktree ?? loaded.repo.commonDir,
    stateDir: paths.dir,
    config: opts.configPath ? resolve(ctx.cwd, opts.configPath) : null,
    remote: loaded.config.remote,
  };
  const hooks = targets.map((t) => installOne(t, hookScript(t.hook, { ...values, path: t.path })));
  const notes: string[] = [];
  const off = modeOff(loaded);
  if (off) notes.push(`the hooks run, but ${off.message}`);
  if (opts.origin === undefined) {
    notes.push('pushes from this repository and its worktrees are recorded (branch_pushed); pushes from other clones are recorded only with --origin <bare repo>, or by whoever emits branch_pushed');
  }
  notes.push('review_approved and finalize_ready come from your orchestrator: shadow-integrator emit (see emit --help)');
  return { hooks, log: join(paths.dir, 'hooks.log'), notes };
}

export function uninstallHooks(loaded: LoadedConfig, ctx: Context, opts: { origin?: string | undefined }): HooksReport {
  const hooks = managedHooks(loaded, ctx, opts.origin).map(uninstallOne);
  const notes = hooks.filter((h) => h.action === 'foreign').map((h) => `${h.path} is not a shadow-integrator hook: left as it is`);
  return { hooks, log: join(loaded.config.state_dir, 'hooks.log'), notes };
}

interface Target {
  repo: HookChange['repo'];
  hook: HookName;
  path: string;
}

/** The hooks this tool manages: the working repository's, then the origin's. All found before anything is written. */
function managedHooks(loaded: LoadedConfig, ctx: Context, origin: string | undefined): Target[] {
  const repos: [HookChange['repo'], RepoLayout, readonly HookName[]][] = [['working', loaded.repo, WORKING_HOOKS]];
  if (origin !== undefined) repos.push(['origin', originRepo(loaded, ctx, origin), ORIGIN_HOOKS]);
  return repos.flatMap(([repo, layout, hooks]) => {
    const dir = hooksDir(layout, ctx.env).dir;
    return hooks.map((hook) => ({ repo, hook, path: join(dir, hook) }));
  });
}

function originRepo(loaded: LoadedConfig, ctx: Context, path: string): RepoLayout {
  const origin = findRepo(resolve(ctx.cwd, path));
  if (origin.commonDir === loaded.repo.commonDir) throw errors.originIsWorkingRepository(path);
  return origin;
}

function installOne({ repo, hook, path }: Target, script: string): HookChange {
  const chained = `${path}${CHAIN_SUFFIX}`;
  const current = readOrNull(path);
  let action: HookAction;
  if (current === null) action = 'installed';
  else if (isOurs(current)) action = current === script ? 'unchanged' : 'updated';
  else {
    if (present(chained)) {
      throw errors.hookChainOccupied(path, chained);
    }
    renameSync(path, chained);
    action = 'installed';
  }
  if (action !== 'unchanged') writeHook(path, script);
  return { repo, hook, path, action, chained: present(chained) ? chained : null };
}

function uninstallOne({ repo, hook, path }: Target): HookChange {
  const chained = `${path}${CHAIN_SUFFIX}`;
  const current = readOrNull(path);
  if (current !== null && !isOurs(current)) return { repo, hook, path, action: 'foreign', chained: null };
  if (present(chained)) {
    renameSync(chained, path); // replaces ours in one step: there is never a moment without a hook
    return { repo, hook, path, action: 'restored', chained: null };
  }
  if (current === null) return { repo, hook, path, action: 'absent', chained: null };
  unlinkSync(path);
  return { repo, hook, path, action: 'removed', chained: null };
}

const isOurs = (text: string) => text.includes(MARKER);

/** Whether a file or a symlink (even a dangling one) is there. */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** The hook's text; '' for a symlink whose target is gone (not ours: kept like any other hook). */
function readOrNull(path: string): string | null {
  if (!present(path)) return null;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Written beside and renamed into place (the store's atomic write): git never runs a half-written hook. */
function writeHook(path: string, script: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeTextAtomic(path, script, { mode: 0o755 });
}
