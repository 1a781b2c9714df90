/** How the runtime reaches the git engine: a fresh engine per tenure, closed at its end. */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { createEngine } from '../engine/evaluate.js';
import { statePaths } from '../store/paths.js';
import type { EngineFactory } from './session.js';

export function engineFactory(loaded: LoadedConfig, ctx: Context, opts: { checkHeartbeatMs?: number } = {}): EngineFactory {
  return () => {
    // The engine (and simple-git behind it) is loaded at the first evaluation, not at start: most
    // drains that hooks start find nothing to evaluate and should not pay for loading it.
    let pending: Promise<ReturnType<typeof createEngine>> | undefined;
    const engine = () =>
      (pending ??= import('../engine/evaluate.js').then(({ createEngine }) =>
        createEngine({
          ...opts,
          repoDir: loaded.repo.mainWorktree ?? loaded.repo.commonDir,
          commonDir: loaded.repo.commonDir,
          config: loaded.config,
          scratchDir: statePaths(loaded.config.state_dir).scratch,
          logger: ctx.logger,
        }),
      ));
    // The engine on main is one function and holds nothing open between candidates: closing is a no-op.
    return { evaluate: async (c) => (await engine())(c), close: () => Promise.resolve() };
  };
}
