/** `init`: the explicit opt-in. */
import { init as initRepository } from '../../config/init.js';
import type { Call, Output } from '../command.js';

export function init({ ctx, globals, opts }: Call<{ force?: boolean; json?: boolean }>): Output {
  const r = initRepository(ctx, { force: opts.force, configPath: globals.config });
  return {
    json: r,
    text: () =>
      `${r.overwritten ? 'overwrote' : 'wrote'} ${r.file} (mode: shadow)\nstate directory: ${r.stateDir}\n\nnext steps:\n${r.nextSteps.map((s) => `  ${s}`).join('\n')}`,
  };
}
