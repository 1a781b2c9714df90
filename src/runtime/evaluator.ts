/** How the runtime reaches the git engine: a fresh engine per tenure, closed at its end. */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { createEngine } from '../engine/evaluate.js';
import { statePaths } from '../store/paths.js';
import type { EngineFactory } from './session.js';

export function engineFactory(loaded: LoadedConfig, ctx: Context, opts: { checkHeartbeatMs?: number } = {}): EngineFactory {
  return () => {
    const evaluate = createEngine({
      ...opts,
      repoDir: loaded.repo.mainWorktree ?? loaded.repo.commonDir,
      commonDir: loaded.repo.commonDir,
      config: loaded.config,
      scratchDir: statePaths(loaded.config.state_dir).scratch,
      logger: ctx.logger,
    });
    // The engine on main is one function and holds nothing open between candidates: closing is a no-op.
    return { evaluate: (c) => evaluate(c), close: () => Promise.resolve() };
  };
}
