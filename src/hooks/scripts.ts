/**
 * The hook scripts: POSIX sh, every value written in at install time (so a hook depends on neither
 * PATH nor the directory git runs it in). Each one starts shadow-integrator in the background and
 * then runs the hook that was there before exactly as git would have, returning its exit status.
 */
import { SCRUBBED } from '../contract/git-environment.js';

/** The line that marks a hook as ours: install updates it in place, uninstall removes only it. */
export const MARKER = '# shadow-integrator: managed hook';
/** Suffix under which the hook that was there before is kept, and from which uninstall restores it. */
export const CHAIN_SUFFIX = '.pre-shadow-integrator';

export type HookName = 'post-commit' | 'post-merge' | 'post-receive';

export interface HookValues {
  node: string;
  cli: string;
  /** The working repository's top level: the CLI runs there (a post-receive runs in the origin). */
  repo: string;
  stateDir: string;
  /** An explicit config file given to `hooks install`, else null (the CLI finds it from `repo`). */
  config: string | null;
  remote: string;
  /** Absolute path of the hook (the chained one is next to it). */
  path: string;
}

const PURPOSE: Record<HookName, string> = {
  'post-commit': 'After each commit it starts `shadow-integrator drain` in the background.',
  'post-merge': 'After each merge or pull (which moves remote-tracking refs) it starts `shadow-integrator drain` in the background.',
  'post-receive':
    'In the origin: for each branch a push updated (not deleted) it records a branch_pushed event in the working\n' +
    "# repository's readiness.jsonl (`shadow-integrator hooks receive`), then starts `shadow-integrator drain` there.",
};

/** Variables a hook's environment carries that would point git (and so the engine) elsewhere. */
const UNSET = [...SCRUBBED, 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT'].join(' ');

/** Runs inside the detached `sh -c`: keeps the log small, moves to the repository, builds the CLI's global options. */
const JOB_PRELUDE =
  'if [ -f "$SI_LOG" ] && [ "$(wc -c <"$SI_LOG")" -gt 1048576 ]; then mv -f "$SI_LOG" "$SI_LOG.1"; exec >>"$SI_LOG" 2>&1; fi; ' +
  'cd "$SI_REPO" || exit 0; set -- --state-dir "$SI_STATE"; if [ -n "$SI_CONFIG" ]; then set -- "$@" --config "$SI_CONFIG"; fi; ';

const DRAIN = 'exec "$SI_NODE" "$SI_CLI" "$@" drain';
const RECEIVE = '"$SI_NODE" "$SI_CLI" "$@" hooks receive --remote "$SI_REMOTE"; ';

export function hookScript(hook: HookName, v: HookValues): string {
  const body =
    hook === 'post-receive'
      ? // Both this hook's job and the chained hook read the ref updates: read them once, give each a copy.
        `si_input=$(cat)
if [ -n "$si_input" ]; then printf '%s\\n' "$si_input" | si_background '${JOB_PRELUDE}${RECEIVE}${DRAIN}'; fi
if [ -x "$SI_CHAINED" ]; then
  if [ -n "$si_input" ]; then printf '%s\\n' "$si_input"; fi | "$SI_CHAINED" "$@"
  exit $?
fi
exit 0`
      : `si_background '${JOB_PRELUDE}${DRAIN}' </dev/null
if [ -x "$SI_CHAINED" ]; then
  "$SI_CHAINED" "$@"
  exit $?
fi
exit 0`;
  return `#!/bin/sh
${MARKER} (${hook}). Installed by \`shadow-integrator hooks install\`; \`shadow-integrator hooks uninstall\`
# removes it and puts back the hook that was here before.
#
# ${PURPOSE[hook]}
# It never fails or delays this git command: shadow-integrator runs detached, its output appended to
# SI_LOG. The hook that was here before, if any, is kept as SI_CHAINED and runs as it did before,
# with the same arguments and input; its exit status is this hook's.
SI_NODE=${shq(v.node)}
SI_CLI=${shq(v.cli)}
SI_REPO=${shq(v.repo)}
SI_STATE=${shq(v.stateDir)}
SI_CONFIG=${shq(v.config ?? '')}
SI_REMOTE=${shq(v.remote)}
SI_LOG="$SI_STATE/hooks.log"
SI_CHAINED=${shq(`${v.path}${CHAIN_SUFFIX}`)}

# Starts \`sh -c "$1"\` in the background, reading this function's standard input: in a session of its
# own when setsid exists (closing the terminal does not stop it), holding none of git's pipes (git would
# wait for them to close), without the GIT_* variables that would redirect git. (sh gives a background
# job /dev/null as input, so the input is handed over on fd 3.)
si_background() {
  [ -d "$SI_STATE" ] || return 0
  exec 3<&0
  (
    unset ${UNSET}
    export SI_NODE SI_CLI SI_REPO SI_STATE SI_CONFIG SI_REMOTE SI_LOG
    if command -v setsid >/dev/null 2>&1; then exec setsid sh -c "$1" <&3 3<&-; fi
    exec sh -c "$1" <&3 3<&-
  ) >>"$SI_LOG" 2>&1 &
  exec 3<&-
}

${body}
`;
}

/** A single-quoted sh word. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
