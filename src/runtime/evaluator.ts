/**
 * How the runtime reaches the git engine: an evaluator called for one candidate at a time, and
 * `close()` at the end of each tenure — the engine's warm git processes stop (and whatever it is
 * running, which then fails with E_CANCELLED); a later call starts new ones.
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { createEngine } from '../engine/evaluate.js';
import type { Evaluator } from './session.js';

export type ClosableEvaluator = Evaluator & { close(): Promise<void> };

export function engineEvaluator(loaded: LoadedConfig, ctx: Context, opts: { checkHeartbeatMs?: number } = {}): ClosableEvaluator {
  const engine = createEngine({
    ...opts,
    repoDir: loaded.repo.mainWorktree ?? loaded.repo.commonDir,
    commonDir: loaded.repo.commonDir,
    stateDir: loaded.config.state_dir,
    config: loaded.config,
    env: ctx.env,
    timers: ctx.timers,
    now: ctx.now,
    logger: ctx.logger,
  });
  return Object.assign((candidate: Parameters<Evaluator>[0]) => engine.evaluate(candidate), { close: () => engine.close() });
}
