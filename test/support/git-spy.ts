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
  // Logs the first argument after the leading `-c name=value` pairs: the subcommand (no subshell,
  // so a spied call costs one process, not two).
  writeFileSync(join(dir, 'git'), `#!/bin/sh\nskip=0\nfor a; do\n  if [ $skip = 1 ]; then skip=0; elif [ "$a" = -c ]; then skip=1; else printf '%s\\n' "$a" >> '${log}'; break; fi\ndone\nexec '${realGit}' "$@"\n`);
  chmodSync(join(dir, 'git'), 0o755);
  return {
    env: { PATH: `${dir}:${process.env.PATH ?? ''}` },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    reset: () => rmSync(log, { force: true }),
  };
}
