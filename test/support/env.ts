/**
 * The one environment tests give git and the CLI: fixtures/git.ts's — every ambient GIT_* variable
 * removed (a test run from inside a hook must not touch the enclosing repository), no user or system
 * git config, fixed identities. Built from process.env, never written back to it.
 */
import { fixtureEnv } from '../../fixtures/git.js';

export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...fixtureEnv(), ...extra };
}

export { git, gitResult } from '../../fixtures/git.js';

/**
 * Under CI=true a scenario that cannot run its real form (no tmpfs, not root…) fails instead of being
 * skipped: a green CI run must mean the scenario ran. Elsewhere it is skipped with the reason.
 */
export function cannotRunHere(reason: string): Error {
  return process.env.CI === 'true' ? new Error(`cannot run here, and CI=true forbids skipping: ${reason}`) : new SkipScenario(reason);
}

/** Thrown to skip a scenario whose real form cannot run on this machine (see `cannotRunHere`). */
export class SkipScenario extends Error {}
