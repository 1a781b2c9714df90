/**
 * Epoch claims: `epochs/<n>`, created with O_EXCL by the one acquisition of epoch n. Exclusive
 * creation is what makes an epoch unique, whatever happens to the state mutex (broken as stale
 * while its holder was paused, or raced by a process of another host): two processes can never hold
 * the same epoch. A holder of epoch n has lost the lease as soon as `epochs/<n+1>` exists. A claim's
 * mtime is its holder's last renewal. Old claims are pruned in ascending order, so that "n exists
 * and n+1 does not" can never be made true by pruning.
 */
import { closeSync, fsyncSync, mkdirSync, readdirSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { LeaseClaim } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { assertValid } from './atomic-json.js';
import { fsyncDir, openState, readStateFile, stateIoError, writeAll } from './files.js';
import type { StatePaths } from './paths.js';

const claimPath = (paths: StatePaths, epoch: number) => join(paths.epochs, String(epoch));

/** Claims epoch `claim.epoch`; false when another process claimed it first. */
export function claimEpoch(paths: StatePaths, claim: LeaseClaim): boolean {
  const path = claimPath(paths, claim.epoch);
  assertValid(path, claim, validators.leaseClaim);
  try {
    mkdirSync(paths.epochs, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw stateIoError(paths.epochs, e, 'write');
  }
  const fd = openState(path, 'create-exclusive');
  if (fd === null) return false;
  try {
    writeAll(fd, Buffer.from(`${JSON.stringify(claim)}\n`));
    fsyncSync(fd);
  } catch (e) {
    throw stateIoError(path, e, 'write');
  } finally {
    closeSync(fd);
  }
  fsyncDir(paths.epochs);
  return true;
}

/** The highest claimed epoch (0 when none). */
export function highestClaim(paths: StatePaths): number {
  let names: string[];
  try {
    names = readdirSync(paths.epochs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw stateIoError(paths.epochs, e, 'read');
  }
  let top = 0;
  for (const n of names) if (/^\d+$/.test(n)) top = Math.max(top, Number(n));
  return top;
}

export interface ClaimInfo {
  /** Null when the claimant died between creating the file and writing it. */
  claim: LeaseClaim | null;
  /** Its holder's last renewal (or the claim itself). */
  touchedMs: number;
}

export function readClaim(paths: StatePaths, epoch: number): ClaimInfo | null {
  const path = claimPath(paths, epoch);
  let touchedMs: number;
  try {
    touchedMs = statSync(path).mtimeMs;
  } catch {
    return null;
  }
  const bytes = readStateFile(path, 64 * 1024);
  if (bytes === null) return null;
  let claim: unknown = null;
  try {
    claim = JSON.parse(bytes.toString('utf8'));
  } catch {
    claim = null;
  }
  return { claim: validators.leaseClaim(claim) ? claim : null, touchedMs };
}

/** Why the holder of `epoch` no longer holds it, judged by the claims alone; null while it does. */
export function claimLost(paths: StatePaths, epoch: number): string | null {
  if (exists(claimPath(paths, epoch + 1))) return `epoch ${epoch + 1} was claimed by another process`;
  if (!exists(claimPath(paths, epoch))) return `the claim of epoch ${epoch} is gone`;
  return null;
}

/** The holder's heartbeat: a taker judges a claim whose lease.json is missing by it. */
export function touchClaim(paths: StatePaths, epoch: number, now: Date): void {
  try {
    utimesSync(claimPath(paths, epoch), now, now);
  } catch (e) {
    throw stateIoError(claimPath(paths, epoch), e, 'write');
  }
}

/** Removes claims below `keepFrom`, lowest first. */
export function pruneClaims(paths: StatePaths, keepFrom: number): void {
  let names: string[];
  try {
    names = readdirSync(paths.epochs);
  } catch {
    return;
  }
  const old = names.filter((n) => /^\d+$/.test(n) && Number(n) < keepFrom).map(Number).sort((a, b) => a - b);
  for (const n of old) {
    try {
      unlinkSync(claimPath(paths, n));
    } catch {
      return; // stop at the first failure: never leave a hole below a kept claim
    }
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
