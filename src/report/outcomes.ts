/** `outcomes`: the ledger, filtered. */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { Outcome } from '../contract/types.generated.js';
import { readOutcomes } from '../ledger/ledger.js';
import { statePaths } from '../store/paths.js';
import { matchesFilter, type OutcomeFilter } from './filters.js';

export interface OutcomesReport {
  file: string;
  outcomes: Outcome[];
  /** Ledger lines that are not valid outcomes (never written by this tool; a hand edit). */
  invalid: number;
}

export function listOutcomes(loaded: LoadedConfig, _ctx: Context, filter: OutcomeFilter): OutcomesReport {
  const paths = statePaths(loaded.config.state_dir);
  const file = paths.outcomes;
  const read = readOutcomes(paths);
  return { file, outcomes: read.outcomes.filter((o) => matchesFilter(o, filter)), invalid: read.invalid };
}
