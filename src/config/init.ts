/**
 * `init`: the explicit opt-in. Reads the canonical remote and its default branch from the repository,
 * verifies that its remote-tracking ref exists, and writes the commented config with mode: shadow
 * and those values, then creates the state directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { InitResult } from '../contract/types.generated.js';
import { describeErrors, formatProblems, validators } from '../contract/validate.js';
import { writeTextAtomic } from '../store/atomic-json.js';
import { CONFIG_FILE, loadConfig } from './config.js';
import { findRepo, readRef, remoteBranches, remoteDefaultBranch, remotesOf, type RepoLayout } from './repo.js';
import { openStateDir } from './state.js';

export type { InitResult };

export function configTemplate(repo: { remote: string; mainBranch: string; found: string }): string {
  return `# shadow-integrator configuration: every key, its default and its bounds are in the README of
# shadow-integrator, section "Configuration" (\`shadow-integrator config\` prints the effective values).
# Every key is optional; unknown keys and bad values are errors naming the key and its line.

# off (default): watch and drain only explain how to opt in.
# shadow: run the singleton integrator in shadow mode. It records what it would do in
# outcomes.jsonl and never writes canonical main. No other value exists: this tool never
# takes merge or push authority.
mode: shadow

# Remote whose branches are canonical, and the canonical branch (${repo.found}).
remote: ${yamlScalar(repo.remote)}
main_branch: ${yamlScalar(repo.mainBranch)}

# State directory. Default: <git common dir>/shadow-integrator/, shared by every worktree.
# state_dir: .git/shadow-integrator

lease:
  # Time to live of the integration/main lease; a holder that stops renewing loses it after this.
  ttl_seconds: 120
  # Renewal period (must be below ttl_seconds).
  renew_every_seconds: 30

# Once the queue is empty, wait this long for late events before releasing the lease.
grace_seconds: 10

# Refresh remote-tracking refs (refs/remotes/<remote>/*, never a local branch) before each evaluation.
fetch: false

# merge-tree: git merge-tree --write-tree, no worktree, no objects left behind.
# worktree: a real git merge --no-commit in the scratch worktree (for merge setups merge-tree cannot reproduce).
engine: merge-tree

# Commands run on the would-be merge in the scratch worktree; a failure blocks with checks_failed.
checks: []
#  - name: unit tests
#    run: npm test
#    timeout_seconds: 300

# Limit for every git process; past it the process is killed and the candidate blocks with git_error.
git_timeout_seconds: 120

# What a candidate is merged onto. queue: live main plus the would_integrate candidates decided before
# it that main does not contain yet, as an owner of main would have merged them. tip: live main alone.
base: queue

# With base: queue, how long a would_integrate candidate stays in the stack without reaching main
# (the live integrator may never take it); at most 30 days.
stack_window_seconds: 86400
`;
}

export interface InitOptions {
  force?: boolean | undefined;
  configPath?: string | undefined;
  /** The canonical remote, when the repository cannot tell (several remotes) or it should not decide. */
  remote?: string | undefined;
  /** The canonical branch, when the remote has no HEAD or it should not decide. */
  mainBranch?: string | undefined;
}

export function init(ctx: Context, opts: InitOptions): InitResult {
  const repo = findRepo(ctx.cwd);
  const file = opts.configPath ?? join(repo.mainWorktree ?? repo.commonDir, CONFIG_FILE);
  const existed = existsSync(file);
  if (existed && !opts.force) throw errors.configExists(file);
  const canonical = canonicalBranch(repo, opts);
  writeTextAtomic(file, configTemplate({ remote: canonical.remote, mainBranch: canonical.mainBranch, found: describeFound(canonical) }));
  const loaded = loadConfig({ cwd: ctx.cwd, configPath: file });
  const paths = openStateDir(loaded);
  return {
    file,
    stateDir: paths.dir,
    overwritten: existed,
    ...canonical,
    nextSteps: [
      'shadow-integrator hooks install            # record pushes (branch_pushed) and start drains from git hooks',
      'shadow-integrator watch                    # run the shadow integrator beside the agents',
      'shadow-integrator emit finalize_ready --slug S --branch B --sha SHA --worker-session-id W --orchestrator-session-id O',
      'shadow-integrator status                   # lease, queue, counts, warnings',
      "shadow-integrator outcomes --json | jq .   # what it would have done",
    ],
  };
}

type Canonical = Pick<InitResult, 'remote' | 'remoteFrom' | 'mainBranch' | 'mainBranchFrom' | 'mainRef' | 'mainSha'>;

/**
 * Which remote-tracking branch is canonical main. The remote: `--remote`, else the only remote, else
 * the only one with a HEAD; the branch: `--main-branch`, else the remote's HEAD (its default branch,
 * as `git clone` or `git remote set-head` record it). Then `refs/remotes/<remote>/<branch>` must
 * exist: a config naming a ref that is not there would block every candidate with git_error.
 */
function canonicalBranch(repo: RepoLayout, opts: Pick<InitOptions, 'remote' | 'mainBranch'>): Canonical {
  const remotes = remotesOf(repo).map((name) => ({ name, head: remoteDefaultBranch(repo, name) }));
  let remote: string;
  let remoteFrom: Canonical['remoteFrom'];
  if (opts.remote !== undefined) {
    if (!remotes.some((r) => r.name === opts.remote)) throw errors.remoteUnknown(opts.remote, remotes);
    [remote, remoteFrom] = [opts.remote, 'option'];
  } else if (remotes.length === 1) {
    [remote, remoteFrom] = [(remotes[0] as { name: string }).name, 'only_remote'];
  } else {
    const withHead = remotes.filter((r) => r.head !== null);
    if (withHead.length !== 1) throw errors.remoteUnknown(null, remotes);
    [remote, remoteFrom] = [(withHead[0] as { name: string }).name, 'remote_head'];
  }
  const head = remotes.find((r) => r.name === remote)?.head ?? null;
  const mainBranch = opts.mainBranch ?? head;
  if (mainBranch === null) throw errors.mainBranchUnknown(remote, null, remoteBranches(repo, remote));
  const values = { remote, main_branch: mainBranch };
  if (!validators.config(values)) {
    const problems = describeErrors(validators.config.errors, values);
    const option = problems.some((p) => p.field === 'remote') ? '--remote' : '--main-branch';
    throw errors.optionInvalid(option, option === '--remote' ? remote : mainBranch, formatProblems(problems).join('; '));
  }
  const mainRef = `refs/remotes/${remote}/${mainBranch}`;
  const mainSha = readRef(repo, mainRef).sha;
  if (mainSha === null) throw errors.mainBranchUnknown(remote, mainBranch, remoteBranches(repo, remote));
  return { remote, remoteFrom, mainBranch, mainBranchFrom: opts.mainBranch !== undefined ? 'option' : 'remote_head', mainRef, mainSha };
}

function describeFound(c: Canonical): string {
  const remote = { option: 'given with --remote', only_remote: 'the only remote', remote_head: 'the only remote with a HEAD' }[c.remoteFrom];
  const branch = c.mainBranchFrom === 'option' ? 'the branch given with --main-branch' : `${c.remote}'s default branch, from refs/remotes/${c.remote}/HEAD`;
  return `init found them: ${remote}; ${branch}`;
}

/** A YAML scalar that reads back as the same string: plain when it is safe, else double-quoted (JSON is YAML). */
function yamlScalar(value: string): string {
  return /^[A-Za-z_][\w./-]*$/.test(value) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(value) ? value : JSON.stringify(value);
}
