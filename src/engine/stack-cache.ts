/**
 * `<state_dir>/cache/stack/kept/` (record: schemas/stack-cache.schema.json): the last stack an
 * engine built, kept at the end of its tenure with the temporary object directory that holds its
 * commits, and taken by the next engine — a `drain` is a tenure of its own, and building the stack
 * again would cost a merge per entry each time. stack.ts decides whether it still fits (the same
 * main, its entries still the first of the stack); its commits are those a build from scratch
 * writes (a function of what they merge), so taking it changes no verdict.
 *
 * The record is written inside the directory before the directory is renamed into place, and the
 * directory is taken by renaming it to the taker's own temporary name: record and objects move
 * together, one engine gets them, and the sweep of dead owners' directories never removes one a live
 * engine holds. A record that is missing, torn or invalid, or whose objects are not all there and
 * intact, is dropped with its directory and the stack built again: never an error.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../context.js';
import { stackCache as validateStackCache } from '../contract/cache-validators.generated.js';
import type { StackCache } from '../contract/types.generated.js';
import { adoptTemporaryObjects, keepTemporaryObjects, looseClosure, objectDirBytes, readLooseObject, type TemporaryObjects } from '../git/objects.js';
import { readCache, writeJsonAtomic } from '../store/atomic-json.js';
import type { BuiltStack } from './stack.js';

export const keptStackDir = (stateDir: string) => join(stateDir, 'cache', 'stack', 'kept');
const RECORD = 'stack.json';

/** What a workspace holds of a kept stack: its objects, the stack, and its commits' parents and times. */
interface KeptStack {
  objects: TemporaryObjects;
  stack: BuiltStack;
  commits: Map<string, { parents: string[]; date: number }>;
}

/** The commits a built stack wrote, with their parents and times (for merge bases walked in process). */
function stackCommits(stack: BuiltStack): Map<string, { parents: string[]; date: number }> {
  return new Map(stack.steps.map((s, i) => [s.commit, { parents: [stack.steps[i - 1]?.commit ?? stack.main, s.sha], date: s.time }]));
}

/** Takes the kept stack (null: none, or not usable — then it is removed). */
export function takeKeptStack(stateDir: string, logger: Logger): KeptStack | null {
  const objects = adoptTemporaryObjects(stateDir, keptStackDir(stateDir));
  if (!objects) return null;
  const drop = (why: string) => {
    logger.log('debug', 'stack_cache_dropped', { why });
    objects.remove();
    return null;
  };
  const record = readCache(join(objects.dir, RECORD), validateStackCache, logger);
  if (!record || record.steps.length === 0) return drop('no usable record');
  rmSync(join(objects.dir, RECORD), { force: true });
  // Each object the steps needed from the directory when kept, still there and still that object: as
  // every one is checked against its id, they reach exactly what they reached then.
  const listed = new Set(record.objects);
  if (!record.steps.every((s) => listed.has(s.commit)) || !record.objects.every((id) => readLooseObject(objects.dir, id) !== null)) return drop('its objects are missing or damaged');
  const stack: BuiltStack = { main: record.main, steps: record.steps };
  return { objects, stack, commits: stackCommits(stack) };
}

/**
 * Keeps `objects` with its stack for the next engine when it has one and its objects stay within
 * `maxBytes`; otherwise removes them. Whether it kept them.
 */
export function keepStack(stateDir: string, objects: TemporaryObjects, stack: BuiltStack | null, maxBytes: number, logger: Logger): boolean {
  const closure = stack && stack.steps.length > 0 && objectDirBytes(objects.dir) <= maxBytes ? looseClosure(objects.dir, stack.steps.map((s) => s.commit)) : null;
  if (!stack || !closure) {
    objects.remove();
    return false;
  }
  try {
    const record: StackCache = { schema_version: 1, main: stack.main, steps: stack.steps, objects: closure };
    writeJsonAtomic(join(objects.dir, RECORD), record, validateStackCache);
  } catch (e) {
    logger.log('warn', 'stack_cache_not_written', { error: (e as Error).message });
    objects.remove();
    return false;
  }
  return keepTemporaryObjects(stateDir, objects, keptStackDir(stateDir));
}
