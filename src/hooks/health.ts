/**
 * Whether the installed hooks still run. A hook hard-codes the node binary and the CLI it starts:
 * when either moves (a node upgrade, a checkout deleted, a package reinstalled elsewhere) git keeps
 * committing and pushing, and nothing is recorded. `status` reports each hook of ours with what no
 * longer holds, read from the hook files alone.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readTextOrEmpty, type RepoLayout } from '../config/repo.js';
import type { HookHealth } from '../contract/types.generated.js';
import { hooksDir } from './hooks-dir.js';
import { installedValues, type HookName } from './scripts.js';

const HOOKS: readonly HookName[] = ['post-commit', 'post-merge', 'reference-transaction'];

/** Each shadow-integrator hook installed in the repository's hooks directory, and its problems (none: it runs). */
export function hooksHealth(repo: RepoLayout, env: NodeJS.ProcessEnv, runningVersion: string): HookHealth[] {
  let dir: string;
  try {
    dir = hooksDir(repo, env).dir;
  } catch {
    return []; // hooks cannot be installed there (hooks install says why): none of ours runs
  }
  const found: HookHealth[] = [];
  for (const hook of HOOKS) {
    const path = join(dir, hook);
    const values = installedValues(readTextOrEmpty(path));
    if (!values) continue;
    const problems: string[] = [];
    if (!can(path, constants.X_OK)) problems.push(`${path} is not executable: git skips it`);
    if (!can(values.node, constants.X_OK)) problems.push(`node ${values.node} is missing or not executable`);
    if (!can(values.cli, constants.R_OK)) problems.push(`the CLI ${values.cli} is missing (moved or uninstalled?)`);
    else {
      const there = versionBeside(values.cli);
      if (values.version !== null && there !== null && there !== values.version) problems.push(`${values.cli} is version ${there} now, the hook was installed by ${values.version}`);
      else if (values.version !== null && values.version !== runningVersion) problems.push(`it runs shadow-integrator ${values.version} (${values.cli}), this is ${runningVersion}`);
    }
    found.push({ hook, path, node: values.node, cli: values.cli, version: values.version, problems });
  }
  return found;
}

function can(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** The version in the package.json of the package the CLI belongs to (dist/src/cli/bin.js → package.json), or null. */
function versionBeside(cli: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(cli), '..', '..', '..', 'package.json'), 'utf8')) as { name?: string; version?: unknown };
    return pkg.name === 'shadow-integrator' && typeof pkg.version === 'string' ? pkg.version : null;
  } catch {
    return null;
  }
}
