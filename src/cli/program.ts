/**
 * The commands, their arguments and options, as commander declares them. Cheap to build: each
 * command's module (and what it needs: the runtime, git, the validators) is imported only when that
 * command runs, so that `status`, `emit` and every hook start fast.
 */
import { Command, Option } from 'commander';
import { errors } from '../contract/errors.js';
import { EVENT_TYPES } from '../producer/event-types.js';
import { OUTCOME_KINDS, SINCE_FORMS } from '../report/filters.js';
import { action, type ActionDeps, type CommandRun } from './command.js';
import { EMIT_FIELDS, emitFieldsHelp, flagOf } from './emit-fields.js';
import type { CliIO, GlobalOptions } from './io.js';
import { cliVersion } from './version.js';

export interface ProgramOptions {
  io: CliIO;
  /** Under --json a failure is a JSON document on stdout: commander must print nothing itself. */
  json: boolean;
  state: ActionDeps['state'];
}

export function buildProgram({ io, json, state }: ProgramOptions): Command {
  const program = new Command('shadow-integrator')
    .description('Shadow-mode singleton integrator: records what it would merge into main, and never writes main.')
    .version(cliVersion())
    .option('--config <path>', 'config file (default: .shadow-integrator.yml at the repository top level)')
    .option('--state-dir <path>', 'state directory (overrides state_dir)')
    .addOption(new Option('--log-format <format>', 'log line format on stderr').choices(['logfmt', 'json']).default('logfmt'))
    .addOption(new Option('--log-level <level>', 'lowest level logged').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => (json ? undefined : write(text)),
    })
    .exitOverride();
  if (!json) program.showHelpAfterError();

  const deps: ActionDeps = { io, state, globals: () => program.opts<GlobalOptions>() };
  const run = <O extends object>(load: () => Promise<CommandRun<O>>) => action(deps, load);

  program
    .command('init')
    .description("opt in: write .shadow-integrator.yml with mode: shadow and the canonical remote and branch read from the repository, and create the state directory")
    .option('--remote <name>', "the canonical remote (default: the only remote, or the only one with a HEAD)")
    .option('--main-branch <branch>', "the canonical branch (default: the remote's HEAD, its default branch)")
    .option('--force', 'overwrite an existing config')
    .option('--json', 'print the result as JSON')
    .action(run(async () => (await import('./commands/init.js')).init));

  program
    .command('config')
    .description('print the effective config and where each value came from')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/config.js')).config));

  const emit = program
    .command('emit')
    .description('append one readiness event to readiness.jsonl (fields from flags, or one JSON object on stdin with --stdin)')
    .argument('<type>', `event type: ${EVENT_TYPES.join(', ')}`)
    .option('--stdin', 'read the event as one JSON object from standard input')
    .option('--json', 'print the stored event as JSON')
    .option('--id <id>', 'idempotency key (default: a fresh UUID)');
  for (const field of EMIT_FIELDS) emit.option(`${flagOf(field)} <value>`);
  emit.addHelpText('after', emitFieldsHelp());
  emit.action(run(async () => (await import('./commands/emit.js')).emit));

  program
    .command('retry')
    .description("ask for a new readiness episode of a slug's current candidate — one more decision, e.g. after fixing the config or a fetch that made it fail with git_error — by appending a retry_requested event")
    .argument('<slug>', 'the slug whose current candidate is decided again')
    .option('--sha <sha>', 'only if the current candidate has this sha (a retry naming another sha changes nothing)')
    .option('--requested-by <name>', 'who asks (default: USER or LOGNAME)')
    .option('--id <id>', 'idempotency key (default: a fresh UUID)')
    .option('--json', 'print the appended event as JSON')
    .addHelpText('after', [
      '',
      'A retry starts a new episode only when the candidate was decided in its current episode before the',
      'retry was requested. It changes nothing when the slug has no candidate, the sha is not the current',
      "candidate's (a superseded candidate is never retried), the candidate still waits for events, or it",
      'is queued or in progress (not decided yet). The holder logs retry_ignored with why; explain shows it.',
    ].join('\n'))
    .action(run(async () => (await import('./commands/retry.js')).retry));

  program
    .command('drain')
    .description('one shot (for git hooks and cron): ingest what is new, and process it if the lease can be had')
    .option('--grace <seconds>', 'wait this long for late events once the queue is empty', (v) => seconds(v, '--grace'), 0)
    .option('--json', 'print the report as JSON')
    .action(run(async () => (await import('./commands/drain.js')).drain));

  program
    .command('watch')
    .description('follow readiness.jsonl beside the agents; take the lease and drain whenever work arrives (Ctrl-C to stop)')
    .option('--poll <ms>', 'how often the log is stat-ed when no file event arrives', (v) => positive(v, '--poll'), 1000)
    .option('--heartbeat <seconds>', 'while a check runs, log a check_running line this often', (v) => positive(v, '--heartbeat'), 30)
    .option('--forecast-every <seconds>', 'look this often whether readiness changed, and if so log a collision_forecast line per new colliding pair (see conflicts)', (v) => positive(v, '--forecast-every'), 5)
    .action(run(async () => (await import('./commands/watch.js')).watch));

  program
    .command('status')
    .description('mode, lease, queue, outcome counts, ingestion lag, rejected lines and the last decision')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/status.js')).status));

  program
    .command('explain')
    .description("why a slug's candidates are where they are: each readiness condition and the event that met it, supersession, queue, outcomes")
    .argument('<slug>', 'the slug to explain')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/explain.js')).explain));

  program
    .command('conflicts')
    .description('a collision forecast: which undecided candidates (the stack, the queue, ready and waiting ones) would collide if both were merged onto main, and on which paths')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/conflicts.js')).conflicts));

  program
    .command('outcomes')
    .description('the outcome ledger, filtered; --json prints JSON Lines (one outcome a line, for jq)')
    .option('--json', 'print JSON Lines')
    .option('--slug <slug>', 'only this slug')
    .option('--outcome <outcome>', `only this outcome: ${OUTCOME_KINDS.join(', ')}`)
    .option('--since <time>', `only decisions since then: ${SINCE_FORMS}`)
    .action(run(async () => (await import('./commands/outcomes.js')).outcomes));

  program
    .command('parity')
    .description('hold the shadow decisions against what landed on canonical main: confusion matrix, agreement, mismatches')
    .option('--json', 'print as JSON')
    .option('--since <time>', `only decisions since then: ${SINCE_FORMS}`)
    .option('--min-agreement <x>', 'gate: exit 3 when agreement is below x (0..1), or on any unsafe-permissive mismatch')
    .action(run(async () => (await import('./commands/parity.js')).parity));

  const hooks = program.command('hooks').description('git hooks so that readiness flows and drains run without anyone remembering');
  hooks
    .command('install')
    .description('hooks that record branch_pushed when a push from this repository succeeds (reference-transaction) and start a background drain after commits, merges and pushes; with --origin, a post-receive hook there that records every push it receives')
    .option('--origin <path>', 'bare origin repository to give the post-receive hook')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/hooks.js')).install));
  hooks
    .command('uninstall')
    .description('remove the hooks and put back the ones that were there before')
    .option('--origin <path>', 'bare origin repository to remove the post-receive hook from')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/hooks.js')).uninstall));
  hooks
    .command('receive')
    .description("read post-receive input (<old> <new> <ref> lines) on stdin and record a branch_pushed per updated branch (the origin's hook runs this)")
    .option('--remote <name>', 'remote name to record (default: the configured remote)')
    .option('--pusher <name>', 'who pushed (default: GL_USERNAME, GITEA_PUSHER_NAME, REMOTE_USER, USER or LOGNAME)')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/hooks.js')).receive));

  hooks
    .command('pushed')
    .description("read reference-transaction input (<old> <new> <ref> lines) on stdin and record a branch_pushed per updated branch of the configured remote (the working repository's hook runs this)")
    .option('--pusher <name>', 'who pushed (default: USER or LOGNAME)')
    .option('--json', 'print as JSON')
    .action(run(async () => (await import('./commands/hooks.js')).pushed));

  return program;
}

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw errors.optionInvalid(flag, v, 'must be a positive number');
  return n;
}

function seconds(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw errors.optionInvalid(flag, v, 'must be a number of seconds ≥ 0');
  return n;
}
