/** `init`: the explicit opt-in. Writes the commented config with mode: shadow and the state dir. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import { writeTextAtomic } from '../store/atomic-json.js';
import { CONFIG_FILE, loadConfig } from './config.js';
import { findRepo } from './repo.js';
import { openStateDir } from './state.js';

export const CONFIG_TEMPLATE = `# shadow-integrator configuration (see README.md, "Configuration").
# Every key is optional; unknown keys and bad values are errors naming the key and its line.

# off (default): watch and drain only explain how to opt in.
# shadow: run the singleton integrator in shadow mode. It records what it would do in
# outcomes.jsonl and never writes canonical main. No other value exists: this tool never
# takes merge or push authority.
mode: shadow

# Remote whose branches are canonical, and the canonical branch.
remote: origin
main_branch: main

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
`;

export interface InitResult {
  file: string;
  stateDir: string;
  overwritten: boolean;
  nextSteps: string[];
}

export function init(ctx: Context, opts: { force?: boolean; configPath?: string | undefined }): InitResult {
  const repo = findRepo(ctx.cwd);
  const file = opts.configPath ?? join(repo.mainWorktree ?? repo.commonDir, CONFIG_FILE);
  const existed = existsSync(file);
  if (existed && !opts.force) throw errors.configExists(file);
  writeTextAtomic(file, CONFIG_TEMPLATE);
  const loaded = loadConfig({ cwd: ctx.cwd, configPath: file });
  const paths = openStateDir(loaded);
  return {
    file,
    stateDir: paths.dir,
    overwritten: existed,
    nextSteps: [
      'shadow-integrator hooks install            # readiness flows from pushes without anyone remembering',
      'shadow-integrator watch                    # run the shadow integrator beside the agents',
      'shadow-integrator emit finalize_ready --slug S --branch B --sha SHA --worker-session-id W --orchestrator-session-id O',
      'shadow-integrator status                   # lease, queue, counts',
      `jq . ${paths.outcomes}                      # what it would have done`,
    ],
  };
}
