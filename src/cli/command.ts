/**
 * The one shape every command action has: load the command's module (only then: `status` and `emit`
 * must not pay for git, the runtime or the file watcher), give it its options and I/O, print what it
 * returns — JSON for machines under --json, text for people otherwise.
 */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import type { ShadowError } from '../contract/errors.js';
import { commandContext, type CliIO, type GlobalOptions } from './io.js';

export interface Call<O> {
  opts: O;
  globals: GlobalOptions;
  ctx: Context;
  io: CliIO;
  /** The effective config (read on first call). */
  config(): Promise<LoadedConfig>;
  /** Runs `fn` with a signal aborted on SIGINT/SIGTERM: the runtime finishes the current item, checkpoints and releases. */
  untilStopped<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export interface Output {
  /** The --json document. */
  json: unknown;
  /** The same for people. */
  text: () => string;
  /** Printed instead of `json` under --json when the output is not one document (JSON Lines). */
  jsonText?: () => string;
  /** A failure that comes after its report (the parity gate): printed, then the command exits with its code. */
  failure?: ShadowError;
}

export type CommandRun<O> = (call: Call<O>, ...args: string[]) => Promise<Output | void> | Output | void;

/** What main learns from an action: the exit code of a failure that was reported with its output. */
export interface RunState {
  exitCode: number;
}

export interface ActionDeps {
  io: CliIO;
  state: RunState;
  globals: () => GlobalOptions;
}

/**
 * The action for commander: `load` imports the command's module when the command runs. commander
 * calls actions with the positional arguments, then the options, then the command.
 */
export function action<O extends object>(deps: ActionDeps, load: () => Promise<CommandRun<O>>) {
  return async (...received: unknown[]): Promise<void> => {
    const args = received.slice(0, -2) as string[];
    const opts = received.at(-2) as O;
    const run = await load();
    const globals = deps.globals();
    const ctx = commandContext(deps.io, globals);
    let loaded: Promise<LoadedConfig> | null = null;
    const call: Call<O> = {
      opts,
      globals,
      ctx,
      io: deps.io,
      config: () => (loaded ??= import('../config/config.js').then((m) => m.loadConfig({ cwd: ctx.cwd, configPath: globals.config, stateDir: globals.stateDir }))),
      untilStopped: async (fn) => {
        const ac = new AbortController();
        const unsubscribe = deps.io.onStop(() => ac.abort());
        try {
          return await fn(ac.signal);
        } finally {
          unsubscribe();
        }
      },
    };
    const out = await run(call, ...args);
    if (!out) return;
    if ((opts as { json?: boolean }).json) {
      const text = out.jsonText ? out.jsonText() : JSON.stringify(out.json, null, 2);
      if (text) ctx.stdout(text);
    } else ctx.stdout(out.text());
    if (out.failure) {
      ctx.stderr(`shadow-integrator: ${out.failure.message}`);
      deps.state.exitCode = out.failure.exitCode;
    }
  };
}
