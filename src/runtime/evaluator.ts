/** How the runtime reaches the git engine for one candidate. */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { Evaluator } from './session.js';

export function engineEvaluator(_loaded: LoadedConfig, _ctx: Context): Evaluator {
  return async () => ({ outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: null, merge_base: null, merged_tree: null });
}
