/** What the hooks tests read back: the log, the recorded pushes, the background runs finished. */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { BranchPushed } from '../../src/contract/types.generated.js';
import type { StatePaths } from '../../src/store/paths.js';

export const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

/**
 * The whole lines of a file a background run may be appending to: a last line without its newline
 * is still being written (an append can be seen half done), so it is not there yet.
 */
export function wholeLines(file: string): string[] {
  const text = read(file);
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean);
}

export const pushes = (paths: StatePaths): BranchPushed[] =>
  wholeLines(paths.readiness)
    .map((l) => JSON.parse(l) as BranchPushed)
    .filter((e) => e.type === 'branch_pushed');

/** A hooks.log line: the time and the run first. */
export const HOOK_LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z) ([a-z-]+)\[(\d+)\] (.*)$/;

/** Background runs finished so far: each drain ends with its one-line report. */
export const drainReports = (log: string) =>
  wholeLines(log).filter((l) => /^(epoch \d+:|nothing to do|lease integration\/main is held)/.test(HOOK_LOG_LINE.exec(l)?.[4] ?? '')).length;

export function writeScript(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}
