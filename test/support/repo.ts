/**
 * Throwaway repositories and directories, removed after the test file: a `git init` opted in to shadow
 * mode (config written with the `yaml` package), or a plain state directory for the store tests.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig, type LoadedConfig, type ResolvedConfig } from '../../src/config/config.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { git } from './env.js';

/** Shadow mode with no grace and a short lease: what runtime and CLI tests run under. */
export const SHADOW = { mode: 'shadow', grace_seconds: 0, lease: { ttl_seconds: 5, renew_every_seconds: 1 } } as const;

/** A config file's text from an object (`yaml` writes it: no hand-made YAML). */
export const configYaml = (config: Record<string, unknown>): string => stringify(config);

export const SHADOW_CONFIG = configYaml(SHADOW);

/** Writes `<dir>/.shadow-integrator.yml`: shadow mode with no grace, plus `extra` (YAML text or keys). */
export function writeShadowConfig(dir: string, extra: Record<string, unknown> | string = {}): string {
  const file = join(dir, '.shadow-integrator.yml');
  writeFileSync(file, typeof extra === 'string' ? `mode: shadow\ngrace_seconds: 0\n${extra}` : configYaml({ mode: 'shadow', grace_seconds: 0, ...extra }));
  return file;
}

export interface TempRepo {
  dir: string;
  paths: StatePaths;
  configFile: string;
  writeConfig(yaml: string): void;
  load(): LoadedConfig;
  remove(): void;
}

/**
 * `git init` in a temp dir (one empty commit with `commit: true`), the config written (none when
 * null; an object is written as YAML), the state directory created.
 */
export function tempRepo(config: string | Record<string, unknown> | null = SHADOW_CONFIG, opts: { commit?: boolean } = {}): TempRepo {
  const dir = mkdtempSync(join(tmpdir(), 'si-test-'));
  cpSync(initialized(opts.commit === true), join(dir, '.git'), { recursive: true });
  const configFile = join(dir, '.shadow-integrator.yml');
  const paths = statePaths(join(dir, '.git', 'shadow-integrator'));
  mkdirSync(paths.dir, { recursive: true });
  const repo: TempRepo = {
    dir,
    paths,
    configFile,
    writeConfig: (yaml) => writeFileSync(configFile, yaml),
    load: () => loadConfig({ cwd: dir }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (config !== null) repo.writeConfig(typeof config === 'string' ? config : configYaml(config));
  return repo;
}

/**
 * The `.git` of `git init -b main` (with its one empty commit when `commit`), made once per process
 * and copied for each temp repository: a copy is a few file writes, a `git init` a process. The
 * fixture clock dates the commit, so every copy holds the same commit a `git commit` there would make.
 */
const initializedGitDirs = new Map<boolean, string>();
function initialized(commit: boolean): string {
  const known = initializedGitDirs.get(commit);
  if (known) return known;
  const dir = mkdtempSync(join(tmpdir(), 'si-init-'));
  git(dir, ['init', '-q', '-b', 'main']);
  if (commit) git(dir, ['commit', '-q', '--allow-empty', '-m', 'init']);
  // Removed when the process ends: `after` here would belong to the test that first asked.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  initializedGitDirs.set(commit, join(dir, '.git'));
  return join(dir, '.git');
}

/** A factory of temp repositories, all removed once the calling test file's tests are done. */
export function tempReposRemovedAfter(): typeof tempRepo {
  const repos: TempRepo[] = [];
  after(() => repos.forEach((r) => r.remove()));
  return (...args) => {
    const r = tempRepo(...args);
    repos.push(r);
    return r;
  };
}

/** A temp directory that is not a repository (for the pure store tests). */
export function tempDir(): { dir: string; paths: StatePaths; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'si-state-'));
  return { dir, paths: statePaths(dir), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A factory of temp directories, all removed once the calling test file's tests are done. */
export function tempDirsRemovedAfter(): () => ReturnType<typeof tempDir> {
  const dirs: ReturnType<typeof tempDir>[] = [];
  after(() => dirs.forEach((d) => d.remove()));
  return () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
}

/** The config the runtime sees, for tests that do not go through a config file. */
export function resolvedConfig(stateDir: string, overrides: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return {
    mode: 'shadow',
    remote: 'origin',
    main_branch: 'main',
    state_dir: stateDir,
    lease: { ttl_seconds: 60, renew_every_seconds: 10 },
    grace_seconds: 0,
    fetch: false,
    engine: 'merge-tree',
    checks: [],
    git_timeout_seconds: 120,
    base: 'queue',
    stack_window_seconds: 86_400,
    ...overrides,
  };
}

export interface ClonedRepo {
  root: string;
  /** The bare repository the clone came from. */
  bare: string;
  /** The clone: a user's repository, no config written. */
  dir: string;
  paths: StatePaths;
  configFile: string;
  remove(): void;
}

/**
 * A repository as `git clone` leaves it: a bare repository whose default branch is `branch` (one
 * commit on it), cloned with its remote named `remote`, so that `refs/remotes/<remote>/HEAD` names
 * the default branch. No shadow-integrator config is written. Removed after the calling test file.
 */
export function clonedRepo(opts: { remote?: string; branch?: string } = {}): ClonedRepo {
  const remote = opts.remote ?? 'origin';
  const branch = opts.branch ?? 'main';
  const root = mkdtempSync(join(tmpdir(), 'si-clone-'));
  const bare = join(root, `${remote}.git`);
  const seed = join(root, 'seed');
  git(root, ['init', '-q', '--bare', '-b', branch, bare]);
  git(root, ['init', '-q', '-b', branch, seed]);
  git(seed, ['commit', '-q', '--allow-empty', '-m', 'first']);
  git(seed, ['push', '-q', bare, `HEAD:refs/heads/${branch}`]);
  const dir = join(root, 'repo');
  git(root, ['clone', '-q', '-o', remote, bare, dir]);
  const r: ClonedRepo = {
    root,
    bare,
    dir,
    paths: statePaths(join(dir, '.git', 'shadow-integrator')),
    configFile: join(dir, '.shadow-integrator.yml'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
  after(() => r.remove());
  return r;
}
