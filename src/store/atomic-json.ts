/**
 * Small JSON state files (lease.json, checkpoint.json) replaced whole by atomic rename, and read back
 * through the same schema. The writer validates first: no state file is ever written that its own
 * reader would refuse. Every whole-file write of the tool goes through replaceFile (files.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../context.js';
import { errors } from '../contract/errors.js';
import { describeErrors, formatProblems, type Validator } from '../contract/validate.js';
import { readStateFile, replaceFile, writeAll } from './files.js';

/** Every state file, caches included, passes the validator its reader uses. */
export function writeJsonAtomic<T>(path: string, data: T, validate: Validator<T>): void {
  assertValid(path, data, validate);
  replaceJson(path, data);
}

function replaceJson(path: string, data: unknown): void {
  const bytes = Buffer.from(`${JSON.stringify(data)}\n`);
  replaceFile(path, (fd) => writeAll(fd, bytes));
}

/** The same for any text (the config `init` writes, a hook script); `mode` is applied whatever the umask. */
export function writeTextAtomic(path: string, text: string, opts: { mode?: number } = {}): void {
  replaceFile(path, (fd) => writeAll(fd, Buffer.from(text)), opts.mode ?? 0o644);
}

/** Our own bug (a record its reader would refuse) must never reach the disk. */
export function assertValid<T>(path: string, data: unknown, validate: Validator<T>): asserts data is T {
  if (!validate(data)) {
    throw errors.internal(`writing ${path} (its reader would refuse it)`, formatProblems(describeErrors(validate.errors, data)).join('; '));
  }
}

/** Reads and validates a state file; `null` when it does not exist yet. */
export function readJson<T>(path: string, validate: Validator<T>): T | null {
  const bytes = readStateFile(path, 16 * 1024 * 1024);
  if (bytes === null) return null;
  return parseJson(path, bytes.toString('utf8'), validate);
}

/**
 * A derived cache (`cache/`, deletable at any time): its data, or null when there is none or it
 * cannot be used — unreadable, torn, not what its schema says — said at debug level, as a cache is
 * only ever a shortcut. Read whole up to the store's bound (git.git's parity cache is 4.5 MB).
 */
export function readCache<T>(path: string, validate: Validator<T>, logger: Logger): T | null {
  try {
    const bytes = readStateFile(path);
    return bytes === null ? null : parseJson(path, bytes.toString('utf8'), validate);
  } catch (e) {
    logger.log('debug', 'cache_ignored', { file: path, error: e instanceof Error ? e.message : String(e) });
    return null;
  }
}

/**
 * Writes a derived cache (its directory made first). A cache that cannot be written is said as a
 * warning (`event`) and costs the next reader a rebuild, nothing more; a record its reader would
 * refuse is our bug, and stays an internal error.
 */
export function writeCache<T>(path: string, data: T, validate: Validator<T>, logger: Logger, event: string): void {
  assertValid(path, data, validate);
  try {
    mkdirSync(dirname(path), { recursive: true });
    replaceJson(path, data);
  } catch (e) {
    logger.log('warn', event, { file: path, error: e instanceof Error ? e.message : String(e) });
  }
}

export function parseJson<T>(path: string, text: string, validate: Validator<T>): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw errors.stateFileCorrupt(path, (e as Error).message);
  }
  if (!validate(data)) throw errors.stateFileCorrupt(path, formatProblems(describeErrors(validate.errors, data)).join('; '));
  return data;
}
