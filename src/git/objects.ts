/**
 * Temporary object directories: where merges write the trees and blobs they make, and where the tool
 * writes the commits it makes itself (`writeMergeCommit`: the stack's merges), so that the
 * repository's store gains nothing (git reads the repository's objects through alternates). They live
 * under the state directory (`tmp-objects/`), never in a shared /tmp, each named after its owner
 * (`<host>-<pid>-<random>`): a process killed before it removed its own leaves it behind, and the next
 * start on the same host removes those whose owner is dead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { errors } from '../contract/errors.js';
import { SHA } from './guard.js';

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

/** The identity of every commit the tool makes: fixed, so that equal inputs give equal commits. */
const IDENTITY = 'shadow-integrator <shadow-integrator@localhost>';

export interface MergeCommit {
  /** The merged tree (in the object directory or the repository's store). */
  tree: string;
  /** First parent: what was merged onto (main, or the stack so far); then what was merged. */
  parents: readonly string[];
  message: string;
  /**
   * Author and committer time, seconds since the epoch. Callers pass the newest of the parents' times:
   * deterministic, and never older than a parent (git's merge-base walk orders commits by date).
   */
  time: number;
}

/**
 * Writes a commit object as a loose object into `objectDir` — a temporary object directory of the
 * tool's own (refused anywhere else), never the repository's store — without starting git: a loose
 * object is zlib(`commit <size>\0<body>`), named by the SHA-1 (or, for 64-digit ids, SHA-256) of
 * what was compressed. The identity and time are fixed by the inputs, so the same tree, parents,
 * message and time give the same id every time: a stack's commits can key caches. Returns its id.
 */
export function writeMergeCommit(objectDir: string, commit: MergeCommit): string {
  if (basename(dirname(resolve(objectDir))) !== 'tmp-objects') throw errors.gitRefused(`writing a commit into ${objectDir}, which is not a temporary object directory`);
  const ids = [commit.tree, ...commit.parents];
  const width = commit.tree.length;
  for (const id of ids) if (!SHA.test(id) || id.length !== width) throw errors.gitRefused(`object id ${JSON.stringify(id)}`);
  if (!Number.isSafeInteger(commit.time) || commit.time < 0) throw errors.gitRefused(`commit time ${commit.time}`);
  const signature = `${IDENTITY} ${commit.time} +0000`;
  const body = Buffer.from(
    [`tree ${commit.tree}`, ...commit.parents.map((p) => `parent ${p}`), `author ${signature}`, `committer ${signature}`, '', commit.message.endsWith('\n') ? commit.message : `${commit.message}\n`].join('\n'),
  );
  const raw = Buffer.concat([Buffer.from(`commit ${body.length}\0`), body]);
  const id = createHash(width === 64 ? 'sha256' : 'sha1').update(raw).digest('hex');
  const dir = join(objectDir, id.slice(0, 2));
  const file = join(dir, id.slice(2));
  if (existsSync(file)) return id;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Written aside and renamed: a reader (git, or this tool after a crash) never sees half an object.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, deflateSync(raw), { mode: 0o444 });
    renameSync(tmp, file);
  } catch (e) {
    throw errors.stateDirUnusable(objectDir, `cannot write a commit object: ${(e as Error).message}`);
  }
  return id;
}
