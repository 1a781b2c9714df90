/**
 * Small JSON state files (lease.json, checkpoint.json) replaced whole by atomic rename, and read back
 * through the same schema. The writer validates first: no state file is ever written that its own
 * reader would refuse.
 */
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { errors } from '../contract/errors.js';
import { describeErrors, formatProblems } from '../contract/validate.js';
import { readStateFile, replaceFile, writeAll } from './files.js';

export function writeJsonAtomic<T>(path: string, data: T, validate: ValidateFunction<T>): void {
  assertValid(path, data, validate);
  const bytes = Buffer.from(`${JSON.stringify(data)}\n`);
  replaceFile(path, (fd) => writeAll(fd, bytes));
}

/** Our own bug (a record its reader would refuse) must never reach the disk. */
export function assertValid<T>(path: string, data: unknown, validate: ValidateFunction<T>): asserts data is T {
  if (!validate(data)) {
    throw errors.internal(`refusing to write ${path}, which its reader would refuse`, new Error(formatProblems(describeErrors(validate.errors, data)).join('; ')));
  }
}

/** Reads and validates a state file; `null` when it does not exist yet. */
export function readJson<T>(path: string, validate: ValidateFunction<T>): T | null {
  const bytes = readStateFile(path, 16 * 1024 * 1024);
  if (bytes === null) return null;
  return parseJson(path, bytes.toString('utf8'), validate);
}

export function parseJson<T>(path: string, text: string, validate: ValidateFunction<T>): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw errors.stateFileCorrupt(path, (e as Error).message);
  }
  if (!validate(data)) throw errors.stateFileCorrupt(path, formatProblems(describeErrors(validate.errors, data)).join('; '));
  return data;
}
