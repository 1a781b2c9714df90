/**
 * Counts the git processes the code under test spawns: a `git` shim first on the PATH of the
 * environment it is given logs each call's subcommand, then execs the real git. The environment is
 * handed over (CLI, context), never written into process.env.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export interface GitSpy {
  /** Give this environment (extra variables) to the code under test. */
  env: { PATH: string };
  /** Subcommand of every git spawned since the spy was made or last reset, in order. */
  calls(): string[];
  reset(): void;
}

/** A spy removed after the calling test file's tests. */
export function gitSpy(): GitSpy {
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'si-git-spy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'calls.log');
  // Skips the leading `-c name=value` pairs to log the subcommand.
  writeFileSync(join(dir, 'git'), `#!/bin/sh\n(while [ "$1" = -c ]; do shift 2; done; printf '%s\\n' "$1") >> '${log}'\nexec '${realGit}' "$@"\n`);
  chmodSync(join(dir, 'git'), 0o755);
  return {
    env: { PATH: `${dir}:${process.env.PATH ?? ''}` },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    reset: () => rmSync(log, { force: true }),
  };
}
