/** `init`: the explicit opt-in, with the canonical remote and branch read from the repository. */
import { init as initRepository } from '../../config/init.js';
import type { Call, Output } from '../command.js';

export function init({ ctx, globals, opts }: Call<{ force?: boolean; json?: boolean; remote?: string; mainBranch?: string }>): Output {
  const r = initRepository(ctx, { force: opts.force, configPath: globals.config, remote: opts.remote, mainBranch: opts.mainBranch });
  return {
    json: r,
    text: () =>
      `${r.overwritten ? 'overwrote' : 'wrote'} ${r.file} (mode: shadow)\n` +
      `canonical main: ${r.mainRef} (${r.mainSha.slice(0, 12)}): remote ${r.remote} (${FROM[r.remoteFrom]}), main_branch ${r.mainBranch} (${FROM[r.mainBranchFrom]})\n` +
      `state directory: ${r.stateDir}\n\nnext steps:\n${r.nextSteps.map((s) => `  ${s}`).join('\n')}`,
  };
}

const FROM = { option: 'given', only_remote: 'the only remote', remote_head: "the remote's HEAD" } as const;
