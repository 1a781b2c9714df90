/** How the runtime reaches the git engine for one candidate. */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { createEngine } from '../engine/evaluate.js';
import { statePaths } from '../store/paths.js';
import type { Evaluator } from './session.js';

export function engineEvaluator(loaded: LoadedConfig, ctx: Context, opts: { checkHeartbeatMs?: number } = {}): Evaluator {
  return createEngine({
    ...opts,
    repoDir: loaded.repo.mainWorktree ?? loaded.repo.commonDir,
    commonDir: loaded.repo.commonDir,
    config: loaded.config,
    scratchDir: statePaths(loaded.config.state_dir).scratch,
    logger: ctx.logger,
  });
}
