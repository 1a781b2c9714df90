/**
 * `drain` and `watch`: the two ways the runtime runs. drain is one shot (git hooks, cron): ingest
 * what is new and, if work exists and the lease can be had, process it; a live holder elsewhere
 * means exit 0, since it will process the new events. watch follows the log and does the same
 * whenever something arrives.
 */
import type { LoadedConfig } from '../config/config.js';
import { modeOff, openStateDir, type ModeOff } from '../config/state.js';
import type { Context } from '../context.js';
import type { LeaseFile } from '../contract/types.generated.js';
import { describeOwner } from './lease.js';
import { runAsHolder, type HolderResult } from './holder.js';
import { PendingWork } from './pending.js';
import type { EngineFactory, SessionHooks, SessionMemory } from './session.js';
import { LogWaker } from './waker.js';

export type DrainReport = ModeOff | { status: 'idle' } | HolderResult;

export interface RuntimeOptions {
  /** How the git engine is reached: one engine per tenure, closed at its end. */
  engine: EngineFactory;
  hooks?: SessionHooks;
  graceSeconds?: number;
  signal?: AbortSignal;
  pollMs?: number;
}

export async function drain(loaded: LoadedConfig, ctx: Context, opts: RuntimeOptions): Promise<DrainReport> {
  const off = modeOff(loaded);
  if (off) return off;
  const paths = openStateDir(loaded);
  const waker = new LogWaker(paths.readiness, opts.pollMs ?? 50, ctx, false);
  try {
    const pending = new PendingWork(paths);
    if (!pending.check(waker.stat())) return { status: 'idle' };
    const memory: { last: SessionMemory | null } = { last: null };
    let result: HolderResult;
    let tenures = 0;
    const before = { decided: 0, ingested: 0, rejected: 0 };
    do {
      result = await runAsHolder(
        { paths, config: loaded.config, ctx, engine: opts.engine, waker, memory, ...(opts.hooks ? { hooks: opts.hooks } : {}) },
        { graceSeconds: opts.graceSeconds ?? 0, ...(opts.signal ? { signal: opts.signal } : {}) },
      );
      if (result.status === 'done') {
        result = { ...result, decided: before.decided + result.decided, ingested: before.ingested + result.ingested, rejected: before.rejected + result.rejected };
        Object.assign(before, { decided: result.decided, ingested: result.ingested, rejected: result.rejected });
      }
      // An event appended while we were releasing was seen by a drain that found the lease still ours
      // and left it to us: look again after releasing, and take the lease back if there is work.
    } while (result.status === 'done' && ++tenures < 10 && !opts.signal?.aborted && pending.check(waker.stat()));
    if (result.status === 'lease_busy') logBusy(ctx, result.holder);
    return result;
  } finally {
    await waker.close();
  }
}

export interface WatchReport {
  status: 'stopped' | 'mode_off';
  message?: string;
  tenures: number;
  decided: number;
}

export async function watch(loaded: LoadedConfig, ctx: Context, opts: RuntimeOptions & { onTenure?: (r: HolderResult) => void }): Promise<WatchReport> {
  const off = modeOff(loaded);
  if (off) return { ...off, tenures: 0, decided: 0 };
  const paths = openStateDir(loaded);
  const pollMs = opts.pollMs ?? 1000;
  const waker = new LogWaker(paths.readiness, pollMs, ctx, true);
  const pending = new PendingWork(paths);
  // What the last tenure knew: the next one of this process reuses it when nobody else held the lease since.
  const memory: { last: SessionMemory | null } = { last: null };
  const report: WatchReport = { status: 'stopped', tenures: 0, decided: 0 };
  let lastBusyEpoch = -1;
  ctx.logger.log('info', 'watch_started', { state_dir: paths.dir, mode: loaded.config.mode });
  try {
    while (!opts.signal?.aborted) {
      const seen = waker.stat();
      if (pending.check(seen)) {
        const result = await runAsHolder(
          { paths, config: loaded.config, ctx, engine: opts.engine, waker, memory, ...(opts.hooks ? { hooks: opts.hooks } : {}) },
          { graceSeconds: opts.graceSeconds ?? loaded.config.grace_seconds, ...(opts.signal ? { signal: opts.signal } : {}) },
        );
        opts.onTenure?.(result);
        if (result.status === 'lease_busy') {
          if (result.holder.epoch !== lastBusyEpoch) logBusy(ctx, result.holder);
          lastBusyEpoch = result.holder.epoch;
        } else {
          report.tenures += 1;
          report.decided += result.decided;
        }
      }
      await waker.waitForChange(waker.stat(), pollMs, opts.signal);
    }
  } finally {
    await waker.close();
    ctx.logger.log('info', 'shutdown', { tenures: report.tenures, decided: report.decided });
  }
  return report;
}

function logBusy(ctx: Context, holder: LeaseFile): void {
  ctx.logger.log('info', 'lease_busy', { holder: describeOwner(holder.owner), epoch: holder.epoch, expires_at: holder.expires_at });
}
