/**
 * One home for what tests share. Import from here: `import { cli, tempRepo, at } from '../support/index.js'`.
 * - env.ts: the test environment for git and the CLI, `git`, and skipping (never under CI=true)
 * - clock.ts: `at`, a manual clock, fake timers driven by hand
 * - events.ts: readiness events and candidates
 * - repo.ts: temporary repositories, state directories and configs
 * - context.ts: a Context with captured logs and output
 * - cli.ts: the CLI in process (`cli`, `cliJson`, `drainToEnd`) and as a child process (`startCli`, `runCli`, `startDrainLoop`)
 * - drain-loop.ts: the child process behind `startDrainLoop` (a script, not exported)
 * - ledger.ts: exactly-once and single-holder checks
 * - runtime.ts: an instant evaluator, lease owners
 * - git-spy.ts: counting git processes through a PATH shim
 * - processes.ts: whether a process is gone, a process's children, a process group's members (Linux /proc)
 * - zero-writes.ts: the zero-write proof (snapshots before/after, pushes refused, fsck clean)
 */
export * from './cli.js';
export * from './clock.js';
export * from './context.js';
export * from './env.js';
export * from './events.js';
export * from './git-spy.js';
export * from './ledger.js';
export * from './processes.js';
export * from './repo.js';
export * from './runtime.js';
export * from './zero-writes.js';
