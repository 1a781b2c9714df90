/**
 * Counts the git processes the code under test spawns: a `git` shim first on the PATH of `env` logs
 * each call's subcommand, then execs the real git. Give `env` to the code under test (as its
 * Context's environment). Proves "refused before spawning" and the spawn budget of an evaluation
 * without mocking anything.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GitSpy {
  /** The environment to run the code under test with. */
  env: NodeJS.ProcessEnv;
  /** Subcommand of every git spawned since the spy was made or last reset, in order. */
  calls(): string[];
  reset(): void;
  remove(): void;
}

export function spyOnGit(base: NodeJS.ProcessEnv = process.env): GitSpy {
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8', env: base }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'si-git-spy-'));
  const log = join(dir, 'calls.log');
  // Skips the leading `-c name=value` pairs to log the subcommand.
  writeFileSync(join(dir, 'git'), `#!/bin/sh\n(while [ "$1" = -c ]; do shift 2; done; printf '%s\\n' "$1") >> '${log}'\nexec '${realGit}' "$@"\n`);
  chmodSync(join(dir, 'git'), 0o755);
  return {
    env: { ...base, PATH: `${dir}:${base.PATH ?? ''}` },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    reset: () => rmSync(log, { force: true }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
