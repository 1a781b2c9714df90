/**
 * Output of a run that a git hook started in the background, appended to hooks.log with the output
 * of every other run: each line gets the time and the run (`2026-01-31T12:00:00.000Z post-commit[4242] …`,
 * the hook script sets SI_HOOK and SI_RUN), and each write is whole lines, written at once (hooks.log
 * is opened with O_APPEND), so that runs side by side never interleave within a line.
 */
import { HOOK_RUN_ENV } from '../hooks/scripts.js';
import type { CliIO } from './io.js';

export function forHookLog(io: CliIO): CliIO {
  const hook = io.env[HOOK_RUN_ENV.hook];
  const run = io.env[HOOK_RUN_ENV.run];
  if (!hook || !run) return io;
  const prefixed = (write: (text: string) => void) => (text: string) => {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const at = io.now().toISOString();
    write(lines.map((l) => `${at} ${hook}[${run}] ${l}\n`).join(''));
  };
  return { ...io, stdout: prefixed(io.stdout), stderr: prefixed(io.stderr) };
}
