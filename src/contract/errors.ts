/**
 * The one error catalogue. Every failure a user can meet has a stable `code` (for scripts and tests),
 * a `message` for people and `details` for machines. The catalogue is total: each code is declared
 * once below with the exit code it leaves (contract: 1 runtime failure, 2 usage or configuration
 * error, 3 parity gate) and its kind, and `ShadowError` accepts no other code. A failure of our own
 * code is `E_INTERNAL`, which says it is a bug and how to report it; it is never dressed as a verdict.
 */
export type ExitCode = 1 | 2 | 3;

/**
 * What a code is about. Only `git` and `state` failures are facts about the world that an evaluation
 * may record as a verdict; `internal` is our bug, and the rest stop the command.
 */
export type ErrorKind = 'usage' | 'config' | 'repository' | 'state' | 'lease' | 'git' | 'report' | 'gate' | 'internal';

const CATALOGUE = {
  // The command line.
  E_UNKNOWN_COMMAND: { exit: 2, kind: 'usage' },
  E_UNKNOWN_OPTION: { exit: 2, kind: 'usage' },
  E_MISSING_ARGUMENT: { exit: 2, kind: 'usage' },
  E_MISSING_OPTION_VALUE: { exit: 2, kind: 'usage' },
  E_TOO_MANY_ARGUMENTS: { exit: 2, kind: 'usage' },
  E_CONFLICTING_OPTIONS: { exit: 2, kind: 'usage' },
  E_OPTION_INVALID: { exit: 2, kind: 'usage' },
  E_ARGUMENT_INVALID: { exit: 2, kind: 'usage' },
  E_EVENT_INVALID: { exit: 2, kind: 'usage' },
  // Configuration and the repository around it.
  E_NOT_A_REPOSITORY: { exit: 2, kind: 'repository' },
  E_CONFIG_INVALID: { exit: 2, kind: 'config' },
  E_MODE_REFUSED: { exit: 2, kind: 'config' },
  E_CONFIG_EXISTS: { exit: 2, kind: 'config' },
  E_ORIGIN_IS_WORKING_REPOSITORY: { exit: 2, kind: 'usage' },
  E_HOOKS_PATH_SHARED: { exit: 2, kind: 'config' },
  E_HOOKS_PATH_UNUSABLE: { exit: 2, kind: 'config' },
  E_HOOK_CHAIN_OCCUPIED: { exit: 2, kind: 'config' },
  E_REMOTE_UNKNOWN: { exit: 2, kind: 'repository' },
  E_MAIN_BRANCH_UNKNOWN: { exit: 2, kind: 'repository' },
  // State files and the state directory.
  E_STATE_CORRUPT: { exit: 1, kind: 'state' },
  E_STATE_DIR: { exit: 1, kind: 'state' },
  E_STATE_READ: { exit: 1, kind: 'state' },
  E_STATE_WRITE: { exit: 1, kind: 'state' },
  E_STATE_NOT_REGULAR: { exit: 1, kind: 'state' },
  E_MUTEX_COMPROMISED: { exit: 1, kind: 'state' },
  E_MUTEX_TIMEOUT: { exit: 1, kind: 'state' },
  E_LEASE_LOST: { exit: 1, kind: 'lease' },
  // git.
  E_GIT_REFUSED: { exit: 1, kind: 'git' },
  E_GIT_FAILED: { exit: 1, kind: 'git' },
  E_GIT_TOO_OLD: { exit: 1, kind: 'git' },
  E_GIT_TIMEOUT: { exit: 1, kind: 'git' },
  E_CANCELLED: { exit: 1, kind: 'lease' },
  // Reports.
  E_SLUG_UNKNOWN: { exit: 1, kind: 'report' },
  E_MAIN_REF_MISSING: { exit: 1, kind: 'report' },
  E_PARITY_BELOW_THRESHOLD: { exit: 3, kind: 'gate' },
  // Ours.
  E_INTERNAL: { exit: 1, kind: 'internal' },
} as const satisfies Record<string, { exit: ExitCode; kind: ErrorKind }>;

export type ErrorCode = keyof typeof CATALOGUE;

/** Every code, for documentation and schema tests. */
export const ERROR_CODES = Object.keys(CATALOGUE) as readonly ErrorCode[];

export type ErrorDetails = Record<string, unknown>;

/** The `--json` form of a failure: `{"error": {"code", "message", "details"}}`. */
export interface ErrorDocument {
  error: { code: ErrorCode; message: string; details: ErrorDetails };
}

export class ShadowError extends Error {
  override readonly name = 'ShadowError';
  readonly exitCode: ExitCode;
  readonly kind: ErrorKind;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = CATALOGUE[code].exit;
    this.kind = CATALOGUE[code].kind;
  }

  toJSON(): ErrorDocument['error'] {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isShadowError(e: unknown): e is ShadowError {
  return e instanceof ShadowError;
}

/** A file-system failure as Node reports it (code, syscall and path are set by node:fs). */
export type ErrnoError = NodeJS.ErrnoException & { code: string };

export function isErrnoError(e: unknown): e is ErrnoError {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code as string);
}

/** Where to report a bug: the message of every internal error ends with it. */
const REPORT_A_BUG =
  'This is a bug in shadow-integrator, not a problem with your repository or configuration. Please report it to the ' +
  "shadow-integrator maintainers with the command you ran and this message; run the command again with --log-level debug to include the stack trace.";

const commandLine = (code: ErrorCode, message: string, details: ErrorDetails = {}) => new ShadowError(code, message, details);

export const errors = {
  // ---- the command line ----
  unknownCommand: (message: string) => commandLine('E_UNKNOWN_COMMAND', message),
  unknownOption: (message: string) => commandLine('E_UNKNOWN_OPTION', message),
  missingArgument: (message: string) => commandLine('E_MISSING_ARGUMENT', message),
  missingOptionValue: (message: string) => commandLine('E_MISSING_OPTION_VALUE', message),
  tooManyArguments: (message: string) => commandLine('E_TOO_MANY_ARGUMENTS', message),
  conflictingOptions: (message: string) => commandLine('E_CONFLICTING_OPTIONS', message),

  /** An option's value is not one it accepts: `expected` says what it accepts, in words. */
  optionInvalid: (option: string, value: string, expected: string, allowed?: readonly string[]) =>
    new ShadowError('E_OPTION_INVALID', `${option} ${JSON.stringify(value)} is not valid: ${expected}`, { option, value, expected, ...(allowed ? { allowed } : {}) }),

  /** A positional argument is not one the command accepts. */
  argumentInvalid: (argument: string, value: string, expected: string, allowed?: readonly string[]) =>
    new ShadowError('E_ARGUMENT_INVALID', `${argument} ${JSON.stringify(value)} is not valid: ${expected}`, { argument, value, expected, ...(allowed ? { allowed } : {}) }),

  eventInvalid: (problems: string[]) =>
    new ShadowError('E_EVENT_INVALID', `invalid readiness event:\n${problems.map((p) => `  ${p}`).join('\n')}`, { problems }),

  // ---- configuration and repository ----
  notARepository: (cwd: string, gitMessage: string) =>
    new ShadowError('E_NOT_A_REPOSITORY', `${cwd} is not inside a git repository: ${gitMessage}`, { cwd }),

  configInvalid: (file: string, problems: { key: string; line?: number | undefined; column?: number | undefined; message: string }[]) =>
    new ShadowError(
      'E_CONFIG_INVALID',
      `${file}: ${problems.length === 1 ? 'invalid config' : `${problems.length} config problems`}:\n` +
        problems.map((p) => `  ${p.line ? `line ${p.line}${p.column ? `:${p.column}` : ''}: ` : ''}${p.key}: ${p.message}`).join('\n'),
      { file, problems },
    ),

  configModeRefused: (file: string, mode: string, line?: number) =>
    new ShadowError(
      'E_MODE_REFUSED',
      `${file}${line ? `:${line}` : ''}: mode: ${mode} is refused. Allowed values: off, shadow. ` +
        'shadow-integrator only runs in shadow mode: it never takes merge or push authority over canonical main.',
      { file, mode, line, allowed: ['off', 'shadow'] },
    ),

  configExists: (file: string) => new ShadowError('E_CONFIG_EXISTS', `${file} already exists; pass --force to overwrite it`, { file }),

  originIsWorkingRepository: (origin: string) =>
    new ShadowError('E_ORIGIN_IS_WORKING_REPOSITORY', `--origin ${origin} is the working repository itself: give the path of the bare repository pushes go to`, { origin }),

  /** core.hooksPath set for every repository (global or system config): installing there would reach them all. */
  hooksPathShared: (file: string, value: string, localConfig: string, suggestion: string) =>
    new ShadowError(
      'E_HOOKS_PATH_SHARED',
      `core.hooksPath is set to ${value} in ${file}: git runs the hooks of every repository from there, and shadow-integrator's hooks are for one repository. ` +
        `Set core.hooksPath for this repository in ${localConfig} (e.g. to ${suggestion}, keeping there any hook you rely on), then run hooks install again.`,
      { file, value, local_config: localConfig },
    ),

  /** core.hooksPath names something hooks cannot be installed in: /dev/null or a file (common ways to turn hooks off). */
  hooksPathUnusable: (dir: string, setIn: string, what: string) =>
    new ShadowError(
      'E_HOOKS_PATH_UNUSABLE',
      `core.hooksPath is ${dir} (set in ${setIn}), which ${what}: git runs no hooks from there, so hooks cannot be installed. ` +
        `If hooks are turned off on purpose, leave them off and run \`shadow-integrator drain\` from cron or your orchestrator instead; ` +
        `otherwise point core.hooksPath at a directory (\`git config core.hooksPath <dir>\`) or unset it (\`git config --unset core.hooksPath\`), then run hooks install again.`,
      { path: dir, set_in: setIn },
    ),

  hookChainOccupied: (path: string, chained: string) =>
    new ShadowError(
      'E_HOOK_CHAIN_OCCUPIED',
      `${path} is not a shadow-integrator hook, and ${chained} exists too: move one of them away by hand, then run hooks install again`,
      { path, chained },
    ),

  /**
   * `init` cannot tell which remote is canonical: `given` is not a remote of the repository, or none
   * was given and the repository has no remote or several (each listed with its default branch).
   */
  remoteUnknown: (given: string | null, remotes: readonly { name: string; head: string | null }[]) => {
    const listed = remotes.map((r) => (r.head ? `${r.name} (HEAD → ${r.head})` : r.name)).join(', ');
    const why =
      given !== null ? `--remote ${given} is not a remote of this repository${remotes.length > 0 ? ` (its remotes: ${listed})` : ' (it has none)'}`
      : remotes.length === 0 ? 'this repository has no remote: add the canonical one (git remote add origin URL && git fetch origin)'
      : `this repository has ${remotes.length} remotes (${listed}) and none is the only one with a HEAD`;
    return new ShadowError('E_REMOTE_UNKNOWN', `${why}; pass --remote NAME (and --main-branch BRANCH) to say which remote's branch is canonical`, {
      given,
      remotes: remotes.map((r) => ({ ...r })),
    });
  },

  /**
   * `init` cannot verify the canonical branch: `branch` (given, or the remote's HEAD) has no
   * remote-tracking ref, or the remote has no HEAD to read it from (branch null).
   */
  mainBranchUnknown: (remote: string, branch: string | null, branches: readonly string[]) => {
    const known = branches.length > 0 ? `branches of ${remote} fetched here: ${branches.slice(0, 20).join(', ')}${branches.length > 20 ? ', …' : ''}` : `no branch of ${remote} is fetched here`;
    const why =
      branch === null ? `${remote} has no HEAD (refs/remotes/${remote}/HEAD), so its default branch is unknown: run git remote set-head ${remote} --auto, or pass --main-branch BRANCH`
      : `refs/remotes/${remote}/${branch} does not exist: fetch it (git fetch ${remote}), or pass --main-branch BRANCH`;
    return new ShadowError('E_MAIN_BRANCH_UNKNOWN', `${why} (${known})`, { remote, branch, branches: [...branches] });
  },

  // ---- state ----
  stateFileCorrupt: (file: string, problem: string) =>
    new ShadowError('E_STATE_CORRUPT', `${file} is not a valid state file: ${problem}`, { file, problem }),

  stateDirUnusable: (dir: string, cause: string) => new ShadowError('E_STATE_DIR', `state directory ${dir} cannot be used: ${cause}`, { dir, cause }),

  /** A read that failed (permissions, a directory where a file belongs…): the file and what to do. */
  stateReadFailed: (file: string, cause: NodeJS.ErrnoException) =>
    new ShadowError('E_STATE_READ', `cannot read ${file}: ${cause.code ?? ''} ${describeErrno(cause)}; ${remedy(cause, 'read')}`, { file, errno: cause.code, remedy: remedy(cause, 'read') }, { cause }),

  stateWriteFailed: (file: string, cause: NodeJS.ErrnoException) =>
    new ShadowError(
      'E_STATE_WRITE',
      `cannot write ${file}: ${cause.code ?? ''} ${describeErrno(cause)}; the previous version of the file is intact; ${remedy(cause, 'write')}`,
      { file, errno: cause.code, remedy: remedy(cause, 'write') },
      { cause },
    ),

  /** A symlink, directory, FIFO or device where the state directory must hold a regular file. */
  stateNotRegular: (file: string, what: string) =>
    new ShadowError(
      'E_STATE_NOT_REGULAR',
      `${file} is ${what}, not a regular file: shadow-integrator reads and writes only regular files in its state directory (a link could leak another file into rejected.jsonl, a FIFO would block); move it away and run again`,
      { file, what },
    ),

  mutexCompromised: (file: string, cause: string) =>
    new ShadowError('E_MUTEX_COMPROMISED', `the state mutex on ${file} was compromised (${cause}); the transaction was aborted`, { file, cause }),

  mutexTimeout: (file: string) => new ShadowError('E_MUTEX_TIMEOUT', `timed out waiting for the state mutex on ${file}`, { file }),

  leaseLost: (epoch: number, why: string) =>
    new ShadowError('E_LEASE_LOST', `lease integration/main (epoch ${epoch}) is no longer held: ${why}; stopping without writing`, { epoch, why }),

  // ---- git ----
  gitRefused: (operation: string) =>
    new ShadowError('E_GIT_REFUSED', `refused git operation "${operation}": shadow-integrator only runs read-only git`, { operation }),

  gitFailed: (args: readonly string[], exitCode: number | null, stderr: string) =>
    new ShadowError('E_GIT_FAILED', `git ${args[0] ?? ''} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim()}`, { args, exitCode, stderr }),

  gitTimedOut: (args: readonly string[], seconds: number) =>
    new ShadowError('E_GIT_TIMEOUT', `git ${args[0] ?? ''} did not finish within ${seconds} s (git_timeout_seconds): it was killed with every process it started`, { args, seconds }),

  /** An evaluation stopped because its engine was closed (its tenure ended): nothing was decided. */
  cancelled: (what: string) => new ShadowError('E_CANCELLED', `${what} was stopped: its evaluation was cancelled (the engine was closed)`, { what }),

  gitTooOld: (version: string) =>
    new ShadowError('E_GIT_TOO_OLD', `git ${version} is too old: shadow-integrator needs git >= 2.38 for merge-tree --write-tree`, { version }),

  // ---- reports ----
  slugUnknown: (slug: string) =>
    new ShadowError('E_SLUG_UNKNOWN', `nothing is known about slug "${slug}": no readiness event, queue item or outcome names it`, { slug }),

  mainRefMissing: (ref: string, remote: string, needs = 'parity compares with canonical main') =>
    new ShadowError('E_MAIN_REF_MISSING', `${ref} does not exist: ${needs} (fetch ${remote} first, or check remote and main_branch in the config)`, { ref, remote }),

  parityBelowThreshold: (agreement: number, threshold: number, unsafe: number) =>
    new ShadowError(
      'E_PARITY_BELOW_THRESHOLD',
      `parity gate failed: agreement ${(agreement * 100).toFixed(1)}% vs required ${(threshold * 100).toFixed(1)}%, ${unsafe} unsafe-permissive mismatch(es)`,
      { agreement, threshold, unsafe },
    ),

  // ---- ours ----
  /**
   * Our own bug, never a verdict: what we were doing, and the failure (a string, or what was thrown:
   * kept as `cause`, whose stack the CLI prints only under --log-level debug — never in details).
   */
  internal: (what: string, cause: unknown) => {
    const error = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    return new ShadowError('E_INTERNAL', `internal error while ${what}: ${error}. ${REPORT_A_BUG}`, { what, error }, { cause });
  },
};

/** Read system calls: a failure of one of these is a failed read. */
const READS = new Set(['open', 'read', 'stat', 'lstat', 'fstat', 'scandir', 'readlink', 'access', 'opendir', 'realpath']);

/**
 * A file-system failure that reached the top without a name: E_STATE_READ or E_STATE_WRITE with its
 * path and what to do, instead of a stack. (Only errno errors that carry a path qualify.)
 */
export function fromErrno(e: ErrnoError): ShadowError | null {
  if (typeof e.path !== 'string') return null;
  return READS.has(e.syscall ?? '') ? errors.stateReadFailed(e.path, e) : errors.stateWriteFailed(e.path, e);
}

function describeErrno(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'the file system is read-only';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'ENOENT':
      return 'it does not exist';
    case 'EISDIR':
      return 'it is a directory, where a file belongs';
    case 'ENOTDIR':
      return 'a part of its path is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    default:
      return e.message;
  }
}

/** What a person can do about it. */
function remedy(e: NodeJS.ErrnoException, op: 'read' | 'write'): string {
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return `give the user running shadow-integrator ${op} access to it and its directory (see ls -l), or run as the user that owns the state directory`;
    case 'EISDIR':
      return 'move the directory away: shadow-integrator needs a regular file there';
    case 'ENOTDIR':
      return 'a file stands where a directory belongs in the path: move it away, or set state_dir elsewhere';
    case 'ENOENT':
      return 'create it, or check state_dir in the config and --state-dir';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'free some space on that file system, or set state_dir elsewhere';
    case 'EROFS':
      return 'set state_dir (or --state-dir) to a writable location';
    case 'ELOOP':
      return 'replace the symbolic link by the file itself';
    case 'EMFILE':
    case 'ENFILE':
      return 'raise the open-file limit (ulimit -n) or stop other processes holding files open';
    default:
      return 'check the file and its directory, then run the command again';
  }
}
