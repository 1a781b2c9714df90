/**
 * How the runtime reaches the git engine: a fresh engine per tenure, closed at its end and on lease
 * loss — its warm git processes stop (and whatever it is running, which then fails with
 * E_CANCELLED and records nothing).
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { Engine as GitEngine } from '../engine/evaluate.js';
import type { EngineFactory } from './session.js';

export function engineFactory(loaded: LoadedConfig, ctx: Context, opts: { checkHeartbeatMs?: number } = {}): EngineFactory {
  return () => {
    // The engine (and simple-git behind it) is loaded at the first evaluation, not at start: most
    // drains that hooks start find nothing to evaluate and should not pay for loading it.
    let pending: Promise<GitEngine> | undefined;
    const engine = () =>
      (pending ??= import('../engine/evaluate.js').then(({ createEngine }) =>
        createEngine({
          ...opts,
          repoDir: loaded.repo.mainWorktree ?? loaded.repo.commonDir,
          commonDir: loaded.repo.commonDir,
          stateDir: loaded.config.state_dir,
          config: loaded.config,
          env: ctx.env,
          timers: ctx.timers,
          now: ctx.now,
          logger: ctx.logger,
        }),
      ));
    return {
      evaluate: async (c) => (await engine()).evaluate(c),
      close: async () => {
        if (pending) await (await pending).close();
      },
    };
  };
}
