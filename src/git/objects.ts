/**
 * Temporary object directories: where merges write the trees and blobs they make, so that the
 * repository's store gains nothing (git reads the repository's objects through alternates). They live
 * under the state directory (`tmp-objects/`), never in a shared /tmp, each named after its owner
 * (`<host>-<pid>-<random>`): a process killed before it removed its own leaves it behind, and the next
 * start on the same host removes those whose owner is dead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
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

export interface MergeCommit {
  tree: string;
  parents: readonly string[];
  message: string;
  /** Author and committer time: later than its parents', so that a walk by date (no commit-graph) reaches it first. */
  at: Date;
}

const IDENT = 'shadow-integrator <shadow-integrator@invalid>';

/**
 * Writes a commit object — the would-be merge of `parents` with tree `tree` — as a loose object into
 * `objectDir` (a temporary object directory of the tool's own, never the repository's store), in this
 * process: no git is started, and nothing refers to it but the caller. Returns its id (SHA-1, or
 * SHA-256 when the tree's id is one).
 */
export function writeMergeCommit(objectDir: string, c: MergeCommit): string {
  const when = `${Math.floor(c.at.getTime() / 1000)} +0000`;
  const body = Buffer.from([`tree ${c.tree}`, ...c.parents.map((p) => `parent ${p}`), `author ${IDENT} ${when}`, `committer ${IDENT} ${when}`, '', c.message.endsWith('\n') ? c.message : `${c.message}\n`].join('\n'));
  const object = Buffer.concat([Buffer.from(`commit ${body.length}\0`), body]);
  const id = createHash(c.tree.length === 64 ? 'sha256' : 'sha1').update(object).digest('hex');
  const dir = join(objectDir, id.slice(0, 2));
  const file = join(dir, id.slice(2));
  if (existsSync(file)) return id;
  try {
    mkdirSync(dir, { recursive: true });
    // Written beside its place and renamed in: a reader never sees half an object.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, deflateSync(object), { mode: 0o444 });
    renameSync(tmp, file);
  } catch (e) {
    throw errors.stateDirUnusable(objectDir, `cannot write a commit object: ${(e as Error).message}`);
  }
  return id;
}
