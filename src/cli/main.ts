/**
 * The command line as a function: `main(argv, io)` parses the arguments, runs one command with the
 * I/O it is given and returns the exit code (0 success, 1 runtime failure, 2 usage or configuration
 * error, 3 parity gate). Nothing runs on import: the bin (bin.ts) calls it with the real process's
 * I/O, tests with their own.
 */
import { CommanderError } from 'commander';
import { errors, fromErrno, isErrnoError, isShadowError, type ShadowError } from '../contract/errors.js';
import type { CliIO } from './io.js';
import { buildProgram } from './program.js';
import type { RunState } from './command.js';

/** `argv`: the arguments after the program's name (process.argv.slice(2)). */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const json = wantsJson(argv);
  const state: RunState = { exitCode: 0 };
  const program = buildProgram({ io, json, state });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) return 0; // --help, --version
    // A command group without its subcommand (or no command at all): commander printed the help; a usage error.
    if (e instanceof CommanderError && e.code === 'commander.help') return 2;
    const error = asShadowError(e, argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' '));
    if (json) io.stdout(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
    // commander has already told people about its own errors (with a pointer to --help).
    if (!(e instanceof CommanderError) || json) io.stderr(`shadow-integrator: ${error.message}\n`);
    if (error.code === 'E_INTERNAL' && wantsDebug(argv)) io.stderr(`${(e as Error).stack ?? String(e)}\n`);
    return error.exitCode;
  }
}

/**
 * Every failure as a catalogue error: commander's own by its code; a file-system failure with its path
 * and what to do; anything else is our bug, said so (its stack only under --log-level debug).
 */
function asShadowError(e: unknown, command: string): ShadowError {
  if (isShadowError(e)) return e;
  if (e instanceof CommanderError) return commandLineError(e);
  return (isErrnoError(e) ? fromErrno(e) : null) ?? errors.internal(`running shadow-integrator ${command}`, e);
}

function commandLineError(e: CommanderError): ShadowError {
  const message = e.message.replace(/^error: /, '');
  switch (e.code) {
    case 'commander.unknownCommand':
      return errors.unknownCommand(message);
    case 'commander.unknownOption':
      return errors.unknownOption(message);
    case 'commander.missingArgument':
      return errors.missingArgument(message);
    case 'commander.optionMissingArgument':
    case 'commander.missingMandatoryOptionValue':
      return errors.missingOptionValue(message);
    case 'commander.excessArguments':
      return errors.tooManyArguments(message);
    case 'commander.conflictingOption':
      return errors.conflictingOptions(message);
    case 'commander.invalidArgument': {
      // --log-format/--log-level choices: "option '--log-format <format>' argument 'xml' is invalid. Allowed choices are …"
      const m = /option '(--[\w-]+)[^']*' argument '([^']*)' is invalid\. (.*)$/.exec(message);
      return m ? errors.optionInvalid(m[1] as string, m[2] as string, m[3] as string) : errors.unknownOption(message);
    }
    default:
      return errors.internal(`reading the command line (${e.code})`, e);
  }
}

/** Whether the command line asks for JSON (before any `--`): decided before parsing, so that parse errors are JSON too. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

function wantsDebug(argv: readonly string[]): boolean {
  const i = argv.indexOf('--log-level');
  return argv.includes('--log-level=debug') || (i !== -1 && argv[i + 1] === 'debug');
}
