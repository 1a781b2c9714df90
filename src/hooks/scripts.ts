/**
 * The hook scripts: POSIX sh, every value written in at install time (so a hook depends on neither
 * PATH nor the directory git runs it in). Each one starts shadow-integrator in the background and
 * then runs the hook that was there before exactly as git would have, returning its exit status.
 *
 * Everything a background run writes goes to hooks.log, one line at a time, each line starting with
 * the time and the run (`2026-01-31T12:00:00.000Z post-commit[4242] …`): the CLI prefixes its own
 * lines (see cli/hook-log.ts), the job says so itself, timestamped, when node or the CLI it was
 * installed with is gone (instead of node's "Cannot find module"), and when a run fails.
 */
import { SCRUBBED } from '../contract/git-environment.js';
import type { HookName } from '../contract/types.generated.js';

export type { HookName };

/** The line that marks a hook as ours: install updates it in place, uninstall removes only it. */
export const MARKER = '# shadow-integrator: managed hook';
/** Suffix under which the hook that was there before is kept, and from which uninstall restores it. */
export const CHAIN_SUFFIX = '.pre-shadow-integrator';

/** Environment variables a hook's background run carries: the CLI prefixes every line it writes with the time and them. */
export const HOOK_RUN_ENV = { hook: 'SI_HOOK', run: 'SI_RUN' } as const;

export interface HookValues {
  node: string;
  cli: string;
  /** The version of the CLI installing the hook: `status` compares it with what is at `cli` now. */
  version: string;
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
  'reference-transaction':
    'When a push from this repository succeeds (or a fetch), git updates refs/remotes/<remote>/<branch>: for each such\n' +
    '# update it records a branch_pushed event (`shadow-integrator hooks pushed`), then starts `shadow-integrator drain`.\n' +
    '# Every other state of a ref transaction (prepared, aborted) returns at once with exit 0: this hook never aborts\n' +
    '# an update.',
  'post-receive':
    'In the origin: for each branch a push updated (not deleted) it records a branch_pushed event in the working\n' +
    "# repository's readiness.jsonl (`shadow-integrator hooks receive`), then starts `shadow-integrator drain` there.",
};

/** Variables a hook's environment carries that would point git (and so the engine) elsewhere. */
const UNSET = [...SCRUBBED, 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT'].join(' ');

/**
 * The background job (`sh -c`, so no single quote in it): keeps the log small, says — timestamped —
 * why it cannot start the CLI when node, the CLI or the repository is gone, moves to the repository,
 * builds the CLI's global options, then runs `steps`.
 */
const job = (steps: string) =>
  [
    'if [ -f "$SI_LOG" ] && [ "$(wc -c <"$SI_LOG")" -gt 1048576 ]; then mv -f "$SI_LOG" "$SI_LOG.1"; exec >>"$SI_LOG" 2>&1; fi',
    'si_say() { printf "%s %s[%s] shadow-integrator hook: %s\\n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SI_HOOK" "$SI_RUN" "$*"; }',
    'if [ ! -x "$SI_NODE" ]; then si_say "cannot run: node $SI_NODE is missing or not executable; run shadow-integrator hooks install again"; exit 0; fi',
    'if [ ! -f "$SI_CLI" ]; then si_say "cannot run: $SI_CLI is missing (moved or uninstalled?); run shadow-integrator hooks install again"; exit 0; fi',
    'cd "$SI_REPO" || { si_say "cannot run: the repository $SI_REPO is gone"; exit 0; }',
    'set -- --state-dir "$SI_STATE"; if [ -n "$SI_CONFIG" ]; then set -- "$@" --config "$SI_CONFIG"; fi',
    steps,
  ].join('; ');

const run = (args: string) => `"$SI_NODE" "$SI_CLI" "$@" ${args} || si_say "${args.split(' --')[0] ?? args} exited $?"`;
const DRAIN = run('drain');

const BODY: Record<HookName, string> = {
  'post-commit': background(job(DRAIN), '</dev/null'),
  'post-merge': background(job(DRAIN), '</dev/null'),
  'reference-transaction': `# Before anything else: prepared and aborted return at once (the previous hook, if any, decides for prepared).
if [ "$1" != committed ]; then
  if [ -x "$SI_CHAINED" ]; then exec "$SI_CHAINED" "$@"; fi
  exit 0
fi
# Read with shell builtins only (no process for the transactions of a plain commit or checkout): the whole
# input for the previous hook, and the updates of remote-tracking branches for shadow-integrator.
si_input=
si_tracking=
while IFS= read -r si_line; do
  si_input="$si_input$si_line
"
  case "$si_line" in
    *' refs/remotes/'*/HEAD) ;;
    *' refs/remotes/'*) si_tracking="$si_tracking$si_line
" ;;
  esac
done
if [ -n "$si_tracking" ]; then printf '%s' "$si_tracking" | ${background(job(`${run('hooks pushed')}; ${DRAIN}`), '')}; fi
if [ -x "$SI_CHAINED" ]; then
  printf '%s' "$si_input" | "$SI_CHAINED" "$@"
  exit $?
fi
exit 0`,
  // Both this hook's job and the chained hook read the ref updates: read them once, give each a copy.
  'post-receive': `si_input=$(cat)
if [ -n "$si_input" ]; then printf '%s\\n' "$si_input" | ${background(job(`${run('hooks receive --remote "$SI_REMOTE"')}; ${DRAIN}`), '')}; fi
if [ -x "$SI_CHAINED" ]; then
  if [ -n "$si_input" ]; then printf '%s\\n' "$si_input"; fi | "$SI_CHAINED" "$@"
  exit $?
fi
exit 0`,
};

/** `si_background '<job>'` with its input redirection; post-commit and post-merge then chain. */
function background(jobText: string, input: string): string {
  return `si_background '${jobText}'${input ? ` ${input}` : ''}`;
}

const CHAIN = `if [ -x "$SI_CHAINED" ]; then
  "$SI_CHAINED" "$@"
  exit $?
fi
exit 0`;

export function hookScript(hook: HookName, v: HookValues): string {
  const body = hook === 'post-commit' || hook === 'post-merge' ? `${BODY[hook]}\n${CHAIN}` : BODY[hook];
  return `#!/bin/sh
${MARKER} (${hook}). Installed by \`shadow-integrator hooks install\`; \`shadow-integrator hooks uninstall\`
# removes it and puts back the hook that was here before.
#
# ${PURPOSE[hook]}
# It never fails or delays this git command: shadow-integrator runs detached, its output appended to
# SI_LOG, each line with the time and the run. The hook that was here before, if any, is kept as
# SI_CHAINED and runs as it did before, with the same arguments and input; its exit status is this hook's.
SI_NODE=${shq(v.node)}
SI_CLI=${shq(v.cli)}
SI_VERSION=${shq(v.version)}
SI_REPO=${shq(v.repo)}
SI_STATE=${shq(v.stateDir)}
SI_CONFIG=${shq(v.config ?? '')}
SI_REMOTE=${shq(v.remote)}
SI_LOG="$SI_STATE/hooks.log"
SI_CHAINED=${shq(`${v.path}${CHAIN_SUFFIX}`)}
${HOOK_RUN_ENV.hook}=${hook}
${HOOK_RUN_ENV.run}=$$

# Starts \`sh -c "$1"\` in the background, reading this function's standard input: in a session of its
# own when setsid exists (closing the terminal does not stop it), holding none of git's pipes (git would
# wait for them to close), without the GIT_* variables that would redirect git. (sh gives a background
# job /dev/null as input, so the input is handed over on fd 3.)
si_background() {
  [ -d "$SI_STATE" ] || return 0
  exec 3<&0
  (
    unset ${UNSET}
    export SI_NODE SI_CLI SI_REPO SI_STATE SI_CONFIG SI_REMOTE SI_LOG ${HOOK_RUN_ENV.hook} ${HOOK_RUN_ENV.run}
    if command -v setsid >/dev/null 2>&1; then exec setsid sh -c "$1" <&3 3<&-; fi
    exec sh -c "$1" <&3 3<&-
  ) >>"$SI_LOG" 2>&1 &
  exec 3<&-
}

${body}
`;
}

/** The values a hook of ours was installed with (null for a hook that is not ours). */
export function installedValues(script: string): { node: string; cli: string; version: string | null } | null {
  if (!script.includes(MARKER)) return null;
  const value = (name: string) => {
    const m = new RegExp(`^${name}='((?:[^']|'\\\\'')*)'$`, 'm').exec(script);
    return m ? (m[1] as string).replace(/'\\''/g, "'") : null;
  };
  const node = value('SI_NODE');
  const cli = value('SI_CLI');
  return node === null || cli === null ? null : { node, cli, version: value('SI_VERSION') };
}

/** A single-quoted sh word. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
