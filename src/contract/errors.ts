/**
 * The one error catalogue. Every failure a user can meet has a stable `code` (for scripts and tests),
 * a `message` for people and `details` for machines; `exitCode` follows the contract:
 * 1 runtime failure, 2 usage or configuration error.
 */
export type ExitCode = 1 | 2 | 3;

export class ShadowError extends Error {
  override readonly name = 'ShadowError';
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly exitCode: ExitCode = 1,
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, details: this.details };
  }
}

const usage = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new ShadowError(code, message, details, 2);
const runtime = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new ShadowError(code, message, details, 1);

export const errors = {
  notARepository: (cwd: string, gitMessage: string) =>
    usage('E_NOT_A_REPOSITORY', `${cwd} is not inside a git repository: ${gitMessage}`, { cwd }),

  configInvalid: (file: string, problems: { key: string; line?: number; column?: number; message: string }[]) =>
    usage(
      'E_CONFIG_INVALID',
      `${file}: ${problems.length === 1 ? 'invalid config' : `${problems.length} config problems`}:\n` +
        problems.map((p) => `  ${p.line ? `line ${p.line}${p.column ? `:${p.column}` : ''}: ` : ''}${p.key}: ${p.message}`).join('\n'),
      { file, problems },
    ),

  configModeRefused: (file: string, mode: string, line?: number) =>
    usage(
      'E_MODE_REFUSED',
      `${file}${line ? `:${line}` : ''}: mode: ${mode} is refused. Allowed values: off, shadow. ` +
        'shadow-integrator only runs in shadow mode: it never takes merge or push authority over canonical main.',
      { file, mode, line, allowed: ['off', 'shadow'] },
    ),

  configExists: (file: string) =>
    usage('E_CONFIG_EXISTS', `${file} already exists; pass --force to overwrite it`, { file }),

  eventInvalid: (problems: string[]) =>
    usage('E_EVENT_INVALID', `invalid readiness event:\n${problems.map((p) => `  ${p}`).join('\n')}`, { problems }),

  usage: (message: string, details: Record<string, unknown> = {}) => usage('E_USAGE', message, details),

  stateFileCorrupt: (file: string, problem: string) =>
    runtime('E_STATE_CORRUPT', `${file} is not a valid state file: ${problem}`, { file, problem }),

  stateDirUnusable: (dir: string, cause: string) =>
    runtime('E_STATE_DIR', `state directory ${dir} cannot be used: ${cause}`, { dir, cause }),

  stateWriteFailed: (file: string, cause: NodeJS.ErrnoException) =>
    runtime('E_STATE_WRITE', `cannot write ${file}: ${cause.code ?? ''} ${describeErrno(cause)}; the previous version of the file is intact`, { file, errno: cause.code }),

  mutexCompromised: (file: string, cause: string) =>
    runtime('E_MUTEX_COMPROMISED', `the state mutex on ${file} was compromised (${cause}); the transaction was aborted`, { file, cause }),

  mutexTimeout: (file: string) =>
    runtime('E_MUTEX_TIMEOUT', `timed out waiting for the state mutex on ${file}`, { file }),

  leaseLost: (epoch: number, why: string) =>
    runtime('E_LEASE_LOST', `lease integration/main (epoch ${epoch}) is no longer held: ${why}; stopping without writing`, { epoch, why }),

  gitRefused: (operation: string) =>
    runtime('E_GIT_REFUSED', `refused git operation "${operation}": shadow-integrator only runs read-only git`, { operation }),

  gitFailed: (args: readonly string[], exitCode: number | null, stderr: string) =>
    runtime('E_GIT_FAILED', `git ${args[0] ?? ''} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim()}`, { args, exitCode, stderr }),

  gitTimedOut: (args: readonly string[], seconds: number) =>
    runtime('E_GIT_TIMEOUT', `git ${args[0] ?? ''} did not finish within ${seconds} s (git_timeout_seconds): it was killed with every process it started`, { args, seconds }),

  cancelled: (what: string) => runtime('E_CANCELLED', `${what} was stopped: its evaluation was cancelled (the engine was closed)`, { what }),

  gitTooOld: (version: string) =>
    runtime('E_GIT_TOO_OLD', `git ${version} is too old: shadow-integrator needs git >= 2.38 for merge-tree --write-tree`, { version }),

  notFound: (what: string, details: Record<string, unknown> = {}) => runtime('E_NOT_FOUND', what, details),

  /** Our own bug, never a verdict: says so, and how to report it. */
  internal: (what: string, cause: unknown) =>
    runtime(
      'E_INTERNAL',
      `internal error while ${what}: ${cause instanceof Error ? cause.message : String(cause)}. This is a bug in shadow-integrator; please report it with this message and the log`,
      { what, cause: cause instanceof Error ? (cause.stack ?? cause.message) : String(cause) },
    ),

  parityBelowThreshold: (agreement: number, threshold: number, unsafe: number) =>
    new ShadowError(
      'E_PARITY_BELOW_THRESHOLD',
      `parity gate failed: agreement ${(agreement * 100).toFixed(1)}% vs required ${(threshold * 100).toFixed(1)}%, ${unsafe} unsafe-permissive mismatch(es)`,
      { agreement, threshold, unsafe },
      3,
    ),
};

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
    default:
      return e.message;
  }
}

export function isShadowError(e: unknown): e is ShadowError {
  return e instanceof ShadowError;
}
