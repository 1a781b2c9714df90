/**
 * Temporary object directories: where merges write the trees and blobs they make, so that the
 * repository's store gains nothing (git reads the repository's objects through alternates). They live
 * under the state directory (`tmp-objects/`), never in a shared /tmp, each named after its owner
 * (`<host>-<pid>-<random>`): a process killed before it removed its own leaves it behind, and the next
 * start on the same host removes those whose owner is dead.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errors } from '../contract/errors.js';

export interface TemporaryObjects {
  readonly dir: string;
  remove(): void;
}

const NAME = /^(.+)-(\d+)-[0-9a-f]{8}$/;

export const temporaryObjectsRoot = (stateDir: string) => join(stateDir, 'tmp-objects');

export function createTemporaryObjects(stateDir: string): TemporaryObjects {
  const dir = join(temporaryObjectsRoot(stateDir), `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw errors.stateDirUnusable(stateDir, `cannot create ${dir}: ${(e as Error).message}`);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Removes the temporary object directories of dead processes of this host; the ones removed. */
export function sweepTemporaryObjects(stateDir: string): string[] {
  const root = temporaryObjectsRoot(stateDir);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const host = hostname();
  const swept: string[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (m?.[1] !== host || isAlive(Number(m[2]))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    swept.push(join(root, name));
  }
  return swept;
}

/** Whether a process of this host is running (EPERM: it is, and belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
